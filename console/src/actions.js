// What pages' buttons and editors share: a confirmation before a destructive action,
// a row's action with its outcome said, and a dialog's form with its saving state and error.
import { ElMessage, ElMessageBox } from 'element-plus'
import { reactive, ref } from 'vue'

// False when the person cancels.
export async function confirmed(message, title, button, cancel) {
  try {
    await ElMessageBox.confirm(message, title, { type: 'warning', confirmButtonText: button, cancelButtonText: cancel })
    return true
  } catch {
    return false
  }
}

// One request from a button: `done` said on success, the API's detail on failure; then `after`
// (the page read again, which shows what is now true either way).
export async function act(request, done, after) {
  try {
    await request()
    ElMessage.success(done)
  } catch (e) {
    ElMessage.error(e.message)
  } finally {
    after?.()
  }
}

// A dialog's form: `open(values)` shows it filled; `submit(send, saved)` runs `send` (which may
// also throw for a form's own check) and closes the dialog when it succeeds.
export function useEditor() {
  const editing = ref(false)
  const saving = ref(false)
  const formError = ref('')
  const form = reactive({})

  function open(values) {
    formError.value = ''
    Object.assign(form, values)
    editing.value = true
  }

  async function submit(send, saved) {
    formError.value = ''
    saving.value = true
    try {
      await send()
      editing.value = false
      ElMessage.success(saved)
      return true
    } catch (e) {
      formError.value = e.message
      return false
    } finally {
      saving.value = false
    }
  }

  return { editing, saving, formError, form, open, submit }
}
