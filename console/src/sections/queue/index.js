// The counter's screen (seed 001): a store owner, or their staff, signs in with queue's own
// accounts; someone who runs no store is refused at the sign-in (session.js).
import Board from './Board.vue'
import Chats from './Chats.vue'
import { session } from './session.js'

export default {
  slug: 'queue',
  locale: 'zh-Hant',
  session,
  isAdmin: (user) => (user.stores?.length ?? 0) > 0,
  nav: [
    { path: 'board', component: Board },
    { path: 'chats', component: Chats },
  ],
}
