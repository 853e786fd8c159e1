// A dialog's submit, the same in every form here: its button spins while the request runs, and
// the API's `detail` is shown in the form when it fails.
import { ref } from 'vue'

export function useSubmit() {
  const saving = ref(false)
  const formError = ref('')

  async function submit(action) {
    saving.value = true
    formError.value = ''
    try {
      await action()
    } catch (e) {
      formError.value = e.message
    } finally {
      saving.value = false
    }
  }

  return { saving, formError, submit }
}
