// Following a file on the server: GET its resource every second until it settles.

const POLL_MS = 1000
export const SETTLED = new Set(['ready', 'failed', 'expired'])

/**
 * Calls onUpdate(resource) after every successful read and stops once the state is
 * settled, `until(resource)` says so, the file is gone (onGone) or stop() is called.
 */
export function follow({ url, onUpdate, onGone, onTrouble, until }) {
  let timer = 0
  let stopped = false
  const schedule = () => {
    if (!stopped) timer = window.setTimeout(poll, POLL_MS)
  }
  const poll = async () => {
    let response
    try {
      response = await fetch(url, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      })
    } catch {
      onTrouble?.('Connection lost; retrying…')
      schedule()
      return
    }
    if (stopped) return
    if (response.status === 404) {
      onGone?.()
      return
    }
    const body = response.ok ? await response.json().catch(() => null) : null
    if (!body) {
      onTrouble?.('The server is busy; retrying…')
      schedule()
      return
    }
    onUpdate(body)
    if (!SETTLED.has(body.state) && !(until && until(body))) schedule()
  }
  poll()
  return () => {
    stopped = true
    window.clearTimeout(timer)
  }
}
