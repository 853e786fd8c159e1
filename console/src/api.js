// A JSON client for one app's API with a signed-in admin's tokens, kept in memory only (a
// reload signs out), refreshed with the refresh token a minute before the access token expires
// and once more if a request is answered 401. An app whose login answers the tokens alone
// (fitness) names the signed-in user at `me`, asked once with the new token. An app whose answers
// name the tokens otherwise maps them with `tokens` (answer -> {access, refresh, expires_in});
// `admit(user, get)` may ask more with the new token before the sign-in is kept (`get(path)`):
// it answers the user to keep, or throws an ApiError saying why this account may not sign in.
import { reactive } from 'vue'

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail)
    this.status = status
  }
}

// FastAPI's `detail` is a string, or a list of validation errors ({loc, msg}).
function describe(status, body) {
  const detail = body?.detail
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).filter((p) => p !== 'body').join('.')}: ${e.msg}`).join('; ')
  }
  return `HTTP ${status}`
}

const OAUTH = (answer) => ({ access: answer.access_token, refresh: answer.refresh_token, expires_in: answer.expires_in })

export function createSession({ base, login, refresh, logout, me, tokens: read = OAUTH, admit }) {
  const state = reactive({ user: null })
  let tokens = null
  let timer = null

  function keep(answer) {
    const { access, refresh: again, expires_in } = read(answer)
    tokens = { access, refresh: again }
    // A refresh that answers no user keeps the one signed in.
    state.user = answer.user ?? state.user
    clearTimeout(timer)
    const seconds = Math.max(10, (expires_in || 60) - 60)
    timer = setTimeout(() => renew().catch(() => forget()), seconds * 1000)
  }

  function forget() {
    clearTimeout(timer)
    tokens = null
    state.user = null
  }

  // `form`: a FormData body (a file upload), sent as multipart with the browser's own boundary.
  // `raw`: the answer's body as a Blob (a download), not parsed.
  async function send(method, path, { body, form, params, auth = true, token, raw = false } = {}) {
    const query = new URLSearchParams()
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== '') query.append(key, value)
    }
    const url = `${base()}${path}${query.size ? `?${query}` : ''}`
    const headers = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const bearer = token ?? (auth && tokens ? tokens.access : null)
    if (bearer) headers.Authorization = `Bearer ${bearer}`
    const response = await fetch(url, {
      method,
      headers,
      body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
    })
    if (raw && response.ok) return { data: await response.blob(), total: null }
    const text = await response.text()
    let data = null
    try {
      data = text ? JSON.parse(text) : null
    } catch {
      data = { detail: text }
    }
    if (!response.ok) throw new ApiError(response.status, describe(response.status, data))
    const total = response.headers.get('X-Total-Count')
    return { data, total: total === null ? null : Number(total) }
  }

  async function renew() {
    const { data } = await send('POST', refresh, { body: { refresh_token: tokens.refresh }, auth: false })
    keep(data)
  }

  async function request(method, path, options = {}) {
    try {
      return await send(method, path, options)
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !tokens) throw error
      try {
        await renew()
      } catch {
        forget()
        throw error
      }
      return send(method, path, options)
    }
  }

  return {
    state,
    request,
    // For what cannot send a header (a WebSocket's URL): the access token now, or null.
    accessToken: () => tokens?.access ?? null,
    async signIn(email, password, accept) {
      const { data } = await send('POST', login, { body: { email, password }, auth: false })
      const token = read(data).access
      let user = data.user ?? (await send('GET', me, { token })).data
      if (admit) user = await admit(user, async (path) => (await send('GET', path, { token })).data)
      const refusal = accept(user)
      if (refusal) throw new ApiError(403, refusal)
      keep({ ...data, user })
    },
    async signOut() {
      if (tokens) {
        await send('POST', logout, { body: { refresh_token: tokens.refresh } }).catch(() => {})
      }
      forget()
    },
  }
}
