import { i18n } from '../../i18n.js'

export function when(value) {
  return value ? new Date(value).toLocaleString(i18n.global.locale.value) : '—'
}

export function number(value, digits = 1) {
  return Number(value).toLocaleString(i18n.global.locale.value, { maximumFractionDigits: digits })
}

// 3725 → 1:02:05
export function duration(seconds) {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = String(seconds % 60).padStart(2, '0')
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}
