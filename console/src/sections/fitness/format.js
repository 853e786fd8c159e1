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

// Seconds since a session's start on a chart's axis: 75 → 1:15.
export function clock(seconds) {
  return duration(Math.max(0, Math.round(seconds)))
}

// Metres as kilometres, for the totals of many sessions.
export function km(meters) {
  return number(meters / 1000, 2)
}

// The machines fitness knows by name; any other is shown as the phone sent it.
export function deviceName(type) {
  const key = `fitness.device.${type}`
  return i18n.global.te(key) ? i18n.global.t(key) : type
}
