// This area's pages, as the badge section's navigation lists them: the fleet as it runs.
import Alerts from './Alerts.vue'
import Devices from './Devices.vue'
import ErrorCodes from './ErrorCodes.vue'
import Modules from './Modules.vue'

export const nav = [
  { path: 'devices', component: Devices },
  // ECharts is loaded only when the logs are opened.
  { path: 'logs', component: () => import('./Logs.vue') },
  { path: 'alerts', component: Alerts },
  { path: 'modules', component: Modules },
  { path: 'error-codes', component: ErrorCodes },
]
