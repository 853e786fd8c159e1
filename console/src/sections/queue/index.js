// The counter's screen (seed 001): a store owner signs in with queue's own accounts.
import { session } from './session.js'

export default {
  slug: 'queue',
  locale: 'zh-Hant',
  session,
  isAdmin: () => true,
  nav: [],
}
