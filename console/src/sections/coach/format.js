import { i18n } from '../../i18n.js'

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled']
export const TYPES = ['review', 'tomorrow_plan', 'reading_summary', 'stats_summary']
export const DIMENSIONS = ['workout', 'meal', 'sleep', 'work', 'reading']

export function when(value) {
  return value ? new Date(value).toLocaleString(i18n.global.locale.value) : '—'
}

// The writer's time: 4 → "4 ms", 2310 → "2.31 s".
export function millis(value) {
  if (value === null || value === undefined) return '—'
  if (value < 1000) return `${value} ms`
  return `${(value / 1000).toLocaleString(i18n.global.locale.value, { maximumFractionDigits: 2 })} s`
}

export function tokens(task) {
  if (task.tokens_in === null && task.tokens_out === null) return '—'
  return `${task.tokens_in ?? '—'} / ${task.tokens_out ?? '—'}`
}

export function who(user) {
  return user.display_name || user.email || `#${user.id}`
}
