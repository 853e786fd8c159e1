// A store owner's (or staff's) session: queue's own accounts, at the prefix the server serves it
// at. Its login answers `{user, token, refresh_token}` (`token` the access token) and its refresh
// `{token, refresh_token, expires_in}`; only someone who runs a store (GET /stores/mine) is let in.
import { ApiError, createSession } from '../../api.js'
import { apiBase } from '../../config.js'
import { i18n } from '../../i18n.js'

export const session = createSession({
  base: () => apiBase('queue'),
  login: '/auth/login',
  refresh: '/auth/refresh',
  logout: '/auth/logout',
  tokens: (answer) => ({ access: answer.token, refresh: answer.refresh_token, expires_in: answer.expires_in }),
  async admit(user, get) {
    const { stores } = await get('/stores/mine')
    if (!stores.length) throw new ApiError(403, i18n.global.t('queue.notOwner'))
    return { ...user, stores }
  },
})
