// Coach's support desk (seed 002): its admin signs in with coach's own accounts.
import { session } from './session.js'

export default {
  slug: 'coach',
  locale: 'zh-Hans',
  session,
  isAdmin: (user) => user.is_admin === true,
  nav: [],
}
