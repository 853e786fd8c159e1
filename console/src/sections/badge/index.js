// The badge fleet's back office (seed 004's web admin), in two areas: the fleet as it runs
// (devices, logs, alerts, modules, error codes) and what is sent to it (configs, versions and
// their rollouts). Its admin signs in with badge's own accounts.
import { nav as fleet } from './fleet/index.js'
import { nav as releases } from './releases/index.js'
import { session } from './session.js'

export default {
  slug: 'badge',
  locale: 'zh-Hans',
  session,
  isAdmin: (user) => user.role === 'admin',
  nav: [...fleet, ...releases],
}
