// What a drawer shows for the id it is given: read when the id changes, dropped when it is
// closed (null), and an answer that arrives after another id was asked for is thrown away.
import { ref, watch } from 'vue'

export function useOpened(id, read, { reset = () => {}, loaded = () => {} } = {}) {
  const data = ref(null)
  const loading = ref(false)
  const error = ref('')
  watch(
    id,
    async (wanted) => {
      data.value = null
      error.value = ''
      reset()
      if (wanted === null) return
      loading.value = true
      try {
        const answer = await read(wanted)
        if (String(id()) !== String(wanted)) return
        data.value = answer
        loaded(answer, wanted)
      } catch (e) {
        error.value = e.message
      } finally {
        loading.value = false
      }
    },
    { immediate: true },
  )
  return { data, loading, error }
}
