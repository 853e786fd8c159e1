// A drawer's record: loaded each time its id changes (null: the drawer is closed), with its
// loading state and the API's error. An answer for an id no longer wanted is dropped.
import { ref, watch } from 'vue'

import { session } from './session.js'

export function useDetail(id, path) {
  const item = ref(null)
  const loading = ref(false)
  const error = ref('')
  watch(
    id,
    async (wanted) => {
      item.value = null
      error.value = ''
      if (wanted === null) return
      loading.value = true
      try {
        const { data } = await session.request('GET', path(wanted))
        if (id() === wanted) item.value = data
      } catch (e) {
        if (id() === wanted) error.value = e.message
      } finally {
        if (id() === wanted) loading.value = false
      }
    },
    { immediate: true },
  )
  return { item, loading, error }
}
