// A store owner's session: queue's own accounts, at the prefix the server serves it at.
import { createSession } from '../../api.js'
import { apiBase } from '../../config.js'

export const session = createSession({
  base: () => apiBase('queue'),
  login: '/api/v1/auth/login',
  refresh: '/api/v1/auth/refresh',
  logout: '/api/v1/auth/logout',
})
