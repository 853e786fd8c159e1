import { i18n } from '../../i18n.js'

// The shop charges in TWD (KEEL_SHOP_CURRENCY); amounts arrive as JSON numbers.
export function money(value) {
  return Number(value).toLocaleString(i18n.global.locale.value, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
}

export function when(value) {
  return value ? new Date(value).toLocaleString(i18n.global.locale.value) : '—'
}
