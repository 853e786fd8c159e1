// The fitness back office (seed 000 section 5): its admin signs in with fitness's own accounts.
import Sessions from './Sessions.vue'
import Users from './Users.vue'
import { session } from './session.js'

export default {
  slug: 'fitness',
  locale: 'zh-Hant',
  session,
  isAdmin: (user) => user.is_admin === true,
  nav: [
    { path: 'sessions', component: Sessions },
    { path: 'users', component: Users },
  ],
}
