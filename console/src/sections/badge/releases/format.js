// What this area's pages share: its words (under `badge.releases`), dates and sizes, and the
// colours of rollout and deployment states.
import { useI18n } from 'vue-i18n'

import { i18n } from '../../../i18n.js'

export function useWords() {
  const { t } = useI18n()
  return { t, w: (key, named = {}) => t(`badge.releases.${key}`, named) }
}

export function when(value) {
  return value ? new Date(value).toLocaleString(i18n.global.locale.value) : '—'
}

const UNITS = ['B', 'KB', 'MB', 'GB']

export function bytes(size) {
  if (size === null || size === undefined) return '—'
  let value = size
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value.toLocaleString(i18n.global.locale.value, { maximumFractionDigits: 1 })} ${UNITS[unit]}`
}

export const STATUS_TAGS = { active: 'success', paused: 'warning', rolled_back: 'danger' }
export const STATE_TAGS = {
  queued: 'info', downloading: 'primary', installing: 'primary', success: 'success', failed: 'danger', rolled_back: 'warning',
}
export const STATES = Object.keys(STATE_TAGS)
