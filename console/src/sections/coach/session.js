// The coach admin's session: coach's own accounts, at the prefix the server serves it at. Its
// login answers the tokens alone (routes/auth.py), so the user comes from GET /api/v1/me.
import { createSession } from '../../api.js'
import { apiBase } from '../../config.js'

export const session = createSession({
  base: () => apiBase('coach'),
  login: '/api/v1/auth/login',
  refresh: '/api/v1/auth/refresh',
  logout: '/api/v1/auth/logout',
  me: '/api/v1/me',
})
