// How the fleet pages show times, levels and JSON, in the page's language.
export function when(value, locale) {
  if (!value) return '—'
  return new Date(value).toLocaleString(locale, { hour12: false })
}

// "12 s ago", "5 min ago", in the page's language.
export function ago(value, locale, now = Date.now()) {
  if (!value) return '—'
  const seconds = Math.round((new Date(value).getTime() - now) / 1000)
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit)
  }
  return format.format(seconds, 'second')
}

export const LEVELS = ['critical', 'error', 'warning', 'info']

// Element Plus's tag types for a log level.
export function levelType(level) {
  return { critical: 'danger', error: 'danger', warning: 'warning', info: 'info' }[level] ?? 'info'
}

export function pretty(value) {
  return value === null || value === undefined ? '' : JSON.stringify(value, null, 2)
}

// A JSON text from a form: empty is null; anything else must parse (the error says which field).
export function parseJson(text, field) {
  if (!text || !text.trim()) return null
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new Error(`${field}: ${e.message}`)
  }
}

// A Blob saved under a name, as the browser saves a download.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = name
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
