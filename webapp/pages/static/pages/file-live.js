// The file page, live: while the file is not settled, each change the server reports
// (server-sent events from /api/v1/files/<id>/events, or, where those are refused or
// unavailable, polling /api/v1/files/<id>/ every second) refreshes the parts of the page
// that changed, from the page as the server renders it now. Without JavaScript the page
// still says to reload.
;(() => {
  'use strict'

  const SETTLED = new Set(['ready', 'failed', 'expired'])
  const POLL_MS = 1000

  function start() {
    const root = document.getElementById('file-detail')
    if (!root || !window.fetch || !window.DOMParser) return
    if (SETTLED.has(root.dataset.state)) return
    root.classList.add('live')
    new LivePage(root).start()
  }

  class LivePage {
    constructor(root) {
      this.root = root
      this.last = ''
      this.finished = false
      this.source = null
      this.timer = 0
      this.queue = Promise.resolve()
    }

    start() {
      if (window.EventSource) this.listen()
      else this.poll()
    }

    listen() {
      const source = new EventSource(this.root.dataset.eventsUrl)
      this.source = source
      source.addEventListener('file', (event) => this.update(parse(event.data)))
      source.addEventListener('gone', () => this.gone())
      source.addEventListener('error', () => {
        // CONNECTING: the stream ended or broke, and EventSource reconnects by itself.
        // CLOSED: the server refused it (too many streams, an error): poll instead.
        if (source.readyState === EventSource.CLOSED && !this.finished) this.poll()
      })
    }

    async poll() {
      if (this.finished) return
      try {
        const response = await fetch(this.root.dataset.resourceUrl, {
          credentials: 'same-origin',
          cache: 'no-store',
          headers: { Accept: 'application/json' },
        })
        if (response.status === 404) return this.gone()
        if (response.ok) this.update(await response.json())
      } catch {
        // Offline for a moment: the next poll tries again.
      }
      if (!this.finished) this.timer = window.setTimeout(() => this.poll(), POLL_MS)
    }

    update(resource) {
      if (!resource || typeof resource.state !== 'string') return
      const text = JSON.stringify(resource)
      if (text === this.last) return
      this.last = text
      if (SETTLED.has(resource.state)) this.finish()
      this.queue = this.queue.then(() => this.refresh()).catch(() => {})
    }

    /** Replace each part of the page whose freshly rendered HTML differs. */
    async refresh() {
      const response = await fetch(window.location.href, {
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { Accept: 'text/html' },
      })
      if (!response.ok) return
      const page = new DOMParser().parseFromString(await response.text(), 'text/html')
      const fresh = page.getElementById('file-detail')
      if (!fresh) return
      for (const part of fresh.querySelectorAll(':scope > [data-part]')) {
        const current = this.root.querySelector(`:scope > [data-part="${part.dataset.part}"]`)
        if (current && current.outerHTML !== part.outerHTML) {
          current.replaceWith(document.importNode(part, true))
        }
      }
      this.root.dataset.state = fresh.dataset.state
    }

    gone() {
      this.finish()
      const note = document.createElement('p')
      note.className = 'error-text'
      note.textContent = 'This file was deleted.'
      this.root.prepend(note)
    }

    finish() {
      this.finished = true
      this.source?.close()
      window.clearTimeout(this.timer)
    }
  }

  function parse(data) {
    try {
      return JSON.parse(data)
    } catch {
      return null
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start)
  } else {
    start()
  }
})()
