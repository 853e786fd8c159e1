// What the server serves: {"apps": {"shop": {"api": "/shop"}}} when every app is mounted, or
// {"apps": {"shop": {"api": ""}}} for `keel serve --app shop` (its API at the root).
import { reactive } from 'vue'

export const config = reactive({ apps: {}, error: null })

export async function loadConfig() {
  try {
    const response = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: 'no-store' })
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`)
    Object.assign(config, await response.json())
  } catch (error) {
    config.error = String(error)
  }
  return config
}

export function apiBase(slug) {
  return config.apps[slug]?.api ?? null
}
