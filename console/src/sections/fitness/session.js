// The fitness admin's session: fitness's own accounts, at the prefix the server serves it at.
// Its login answers the tokens alone, so the user comes from GET /users/me.
import { createSession } from '../../api.js'
import { apiBase } from '../../config.js'

export const session = createSession({
  base: () => apiBase('fitness'),
  login: '/api/v1/auth/login',
  refresh: '/api/v1/auth/refresh',
  logout: '/api/v1/auth/logout',
  me: '/api/v1/users/me',
})
