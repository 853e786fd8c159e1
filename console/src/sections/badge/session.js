// The badge operator's session: badge's own accounts (an admin), at the prefix the server serves
// it at. Its login answers the tokens alone, so the user comes from GET /users/me.
import { createSession } from '../../api.js'
import { apiBase } from '../../config.js'

export const session = createSession({
  base: () => apiBase('badge'),
  login: '/api/v1/auth/login',
  refresh: '/api/v1/auth/refresh',
  logout: '/api/v1/auth/logout',
  me: '/api/v1/users/me',
})
