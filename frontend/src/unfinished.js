// The server-rendered list of uploads that never finished. Adding the same file again
// resumes it (the intent is idempotent per file); "Discard" aborts it on the server.

export class UnfinishedList {
  constructor(section, { filesUrl, csrfToken }) {
    this.section = section
    this.filesUrl = filesUrl
    this.csrfToken = csrfToken
    if (!section) return
    section.hidden = !this.items().length
    for (const button of section.querySelectorAll('button[data-discard]')) {
      button.addEventListener('click', () => this.discard(button.closest('[data-file-id]')))
    }
  }

  items() {
    return this.section ? Array.from(this.section.querySelectorAll('li[data-file-id]')) : []
  }

  /** A file on the page took this upload over: it is no longer just "unfinished". */
  claim(fileId) {
    const item = this.items().find((li) => li.dataset.fileId === fileId)
    if (item) this.drop(item)
  }

  async discard(item) {
    const button = item.querySelector('button[data-discard]')
    button.disabled = true
    try {
      const response = await fetch(`${this.filesUrl}${encodeURIComponent(item.dataset.fileId)}/`, {
        method: 'DELETE',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'X-CSRFToken': this.csrfToken },
      })
      if (response.ok || response.status === 404) {
        this.drop(item)
        return
      }
      item.querySelector('.error-text').textContent = `Could not discard (HTTP ${response.status}).`
    } catch {
      item.querySelector('.error-text').textContent = 'Network error: could not discard.'
    }
    button.disabled = false
  }

  drop(item) {
    item.remove()
    this.section.hidden = !this.items().length
  }
}
