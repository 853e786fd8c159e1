// The metrics' definitions from GET /meta/schemas, asked once per page load: the server checks
// uploads against the same ones, so the labels and units here are the ones it means.
import { i18n } from '../../i18n.js'
import { session } from './session.js'

let pending = null

export function loadSchemas() {
  pending ??= session.request('GET', '/api/v1/meta/schemas', { auth: false }).then(
    ({ data }) => data,
    (error) => {
      pending = null // asked again by the next expanded row
      throw error
    },
  )
  return pending
}

// A device without a schema of its own is checked against the generic one (what every machine
// means alike); its other keys are shown raw.
export function summaryFields(schemas, deviceType) {
  const fields = (schemas.schemas[deviceType] ?? schemas.generic).summary
  return new Map(fields.map((field) => [field.key, field]))
}

// The schema's labels are in zh (Traditional, as seed 000 is written) and en.
export function label(field) {
  return i18n.global.locale.value.startsWith('zh') ? field.label.zh : field.label.en
}
