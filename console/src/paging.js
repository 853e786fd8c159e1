// One paged table's state, the same on every page: its rows, the total, the current page, whether
// it is loading and the API's error. `fetchPage({page, size, skip})` answers `{rows, total}`.
import { onMounted, ref } from 'vue'

export const PAGE_SIZE = 20

export function usePaged(fetchPage, { size = PAGE_SIZE } = {}) {
  const rows = ref([])
  const total = ref(0)
  const page = ref(1)
  const loading = ref(false)
  const error = ref('')

  async function load() {
    loading.value = true
    error.value = ''
    try {
      const answer = await fetchPage({ page: page.value, size, skip: (page.value - 1) * size })
      rows.value = answer.rows
      total.value = answer.total
    } catch (e) {
      error.value = e.message
    } finally {
      loading.value = false
    }
  }

  // A new search or filter starts again from the first page.
  function reload() {
    page.value = 1
    return load()
  }

  onMounted(load)
  return { rows, total, page, size, loading, error, load, reload }
}
