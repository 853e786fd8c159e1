// Coach's support desk (spec 001): its admin signs in with coach's own accounts; the
// user comes from GET /api/v1/me, whose `is_admin` says whether they may use these pages.
import AiTasks from './AiTasks.vue'
import Users from './Users.vue'
import { session } from './session.js'

export default {
  slug: 'coach',
  locale: 'zh-Hans',
  session,
  isAdmin: (user) => user.is_admin === true,
  nav: [
    { path: 'users', component: Users },
    { path: 'ai-tasks', component: AiTasks },
  ],
}
