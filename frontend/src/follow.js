// Following a file on the server: live through its server-sent events
// (GET <file>/events) when the page may open one more stream, else by reading its
// resource every second. A refused or unavailable stream falls back to polling.

const POLL_MS = 1000
// Each stream holds a connection (browsers allow six per server) and a server thread.
const MAX_STREAMS = 2
export const SETTLED = new Set(['ready', 'failed', 'expired'])

let openStreams = 0

/**
 * Calls onUpdate(resource) after every change read and stops once the state is
 * settled, `until(resource)` says so, the file is gone (onGone) or stop() is called.
 * `live` asks for server-sent events; without it (or beyond MAX_STREAMS) it polls.
 */
export function follow({ url, onUpdate, onGone, onTrouble, until, live = false }) {
  const options = { url, onUpdate, onGone, onTrouble, until }
  if (live && window.EventSource && openStreams < MAX_STREAMS) return stream(options)
  return poll(options)
}

function done(resource, until) {
  return SETTLED.has(resource.state) || Boolean(until && until(resource))
}

function stream(options) {
  const { url, onUpdate, onGone, onTrouble, until } = options
  const source = new EventSource(`${url}events`)
  let closed = false
  let stopPolling = null
  openStreams += 1
  const close = () => {
    if (closed) return
    closed = true
    source.close()
    openStreams -= 1
  }
  source.addEventListener('file', (event) => {
    const resource = parse(event.data)
    if (!resource) return
    onUpdate(resource)
    if (done(resource, until)) close()
  })
  source.addEventListener('gone', () => {
    close()
    onGone?.()
  })
  source.addEventListener('error', () => {
    if (closed) return
    if (source.readyState === EventSource.CLOSED) {
      // Refused (too many streams, an error page): read the resource instead.
      close()
      stopPolling = poll(options)
    } else {
      // The stream ended or broke; EventSource reconnects after the server's delay.
      onTrouble?.('Reconnecting…')
    }
  })
  return () => {
    close()
    stopPolling?.()
  }
}

function poll({ url, onUpdate, onGone, onTrouble, until }) {
  let timer = 0
  let stopped = false
  const schedule = () => {
    if (!stopped) timer = window.setTimeout(read, POLL_MS)
  }
  const read = async () => {
    let response
    try {
      response = await fetch(url, {
        credentials: 'same-origin',
        cache: 'no-store',
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
    if (!done(body, until)) schedule()
  }
  read()
  return () => {
    stopped = true
    window.clearTimeout(timer)
  }
}

function parse(data) {
  try {
    return JSON.parse(data)
  } catch {
    return null
  }
}
