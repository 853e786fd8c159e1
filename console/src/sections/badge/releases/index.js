// This area's pages, as the badge section's navigation lists them: what is sent to the fleet.
import Configs from './Configs.vue'
import Versions from './Versions.vue'

export const nav = [
  { path: 'versions', component: Versions },
  { path: 'configs', component: Configs },
]
