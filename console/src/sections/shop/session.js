// The shop admin's session: the shop's own accounts, at the prefix the server serves the shop at.
import { createSession } from '../../api.js'
import { apiBase } from '../../config.js'

export const session = createSession({
  base: () => apiBase('shop'),
  login: '/api/auth/login',
  refresh: '/api/auth/refresh',
  logout: '/api/auth/logout',
})
