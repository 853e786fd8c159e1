// The queue's WebSocket for the signed-in user (their own channel and the stores they run):
// every frame goes to `onFrame`; a dropped socket comes back with the cursor of the last frame
// (`since=`), so what the channels carried meanwhile comes first, none twice. `onOpen` is told
// on every (re)connection, for the page to read its state once more. `status` is live or offline.
import { onBeforeUnmount, ref } from 'vue'

import { apiBase } from '../../config.js'
import { session } from './session.js'

export function useLive({ onFrame, onOpen }) {
  const status = ref('connecting')
  let socket = null
  let cursor = null
  let retry = 0
  let timer = null
  let stopped = false

  function url() {
    const address = new URL(`${apiBase('queue')}/ws`, window.location.href)
    address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:'
    address.searchParams.set('token', session.accessToken() ?? '')
    if (cursor) address.searchParams.set('since', cursor)
    return address
  }

  function open() {
    if (stopped || !session.accessToken()) return
    socket = new WebSocket(url())
    socket.onopen = () => {
      retry = 0
      status.value = 'live'
      onOpen?.()
    }
    socket.onmessage = (message) => {
      let frame
      try {
        frame = JSON.parse(message.data)
      } catch {
        return
      }
      if (frame.id) cursor = frame.id
      onFrame(frame)
    }
    socket.onclose = () => {
      socket = null
      if (stopped) return
      status.value = 'offline'
      // Back off to 10 s; a fresh access token is taken each time (the session renews it).
      timer = setTimeout(open, Math.min(10_000, 500 * 2 ** retry++))
    }
  }

  open()
  onBeforeUnmount(() => {
    stopped = true
    clearTimeout(timer)
    socket?.close()
  })
  return { status }
}
