// The fitness back office (seed 000 section 5): its admin signs in with fitness's own accounts.
// A session's curves open in a drawer from the sessions (?session=<id>) and from a user's detail
// (users?user=<id>); ECharts is loaded only when the first curves are drawn.
import Sessions from './Sessions.vue'
import Trainings from './Trainings.vue'
import Users from './Users.vue'
import Versions from './Versions.vue'
import { session } from './session.js'

export default {
  slug: 'fitness',
  locale: 'zh-Hant',
  session,
  isAdmin: (user) => user.is_admin === true,
  nav: [
    { path: 'sessions', component: Sessions },
    { path: 'users', component: Users },
    { path: 'trainings', component: Trainings },
    { path: 'versions', component: Versions },
  ],
}
