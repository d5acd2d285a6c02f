// One row per file under the dashboard: the upload's progress and speed, then the file's
// life on the server (stored, processing steps, ready) and its thumbnail.

import { el, extension, formatBytes, formatDuration } from './format.js'

const SPEED_WINDOW_MS = 3000
// Below this, an average rate mostly measures latency and says little.
const MIN_BYTES_FOR_RATE = 256 * 1024
const ZERO_ID = '00000000-0000-0000-0000-000000000000'
const STATE_LABELS = {
  awaiting_upload: 'uploading',
  preparing: 'preparing',
  refused: 'refused',
}

export class FileRow {
  constructor({ list, name, size, filePage, onPauseResume }) {
    this.name = name
    this.size = size
    this.filePage = filePage
    this.thumbnailUrl = ''
    this.samples = []
    this.firstSample = null
    this.build(list, onPauseResume)
    this.setState('waiting')
    this.detail.textContent = 'Waiting to start…'
  }

  build(list, onPauseResume) {
    this.item = el('li', 'upload-row')
    this.thumb = el('div', 'thumb')
    this.thumb.appendChild(el('span', 'ext', extension(this.name)))
    this.title = el('span', 'name', this.name)
    this.pill = el('span', 'pill')
    this.pauseButton = el('button', 'row-action', 'Pause')
    this.pauseButton.type = 'button'
    this.pauseButton.hidden = true
    this.pauseButton.addEventListener('click', onPauseResume)
    this.progress = el('progress', 'bar')
    this.progress.max = Math.max(this.size, 1)
    this.progress.value = 0
    this.detail = el('div', 'detail muted')
    this.jobs = el('ul', 'jobs')
    this.error = el('div', 'error-text')
    const heading = el('div', 'row-title')
    heading.append(this.title, el('span', 'size muted', formatBytes(this.size)))
    heading.append(this.pill, this.pauseButton)
    const main = el('div', 'row-main')
    main.append(heading, this.progress, this.detail, this.jobs, this.error)
    this.item.append(this.thumb, main)
    list.append(this.item)
  }

  setState(state) {
    this.state = state
    this.pill.textContent = STATE_LABELS[state] || state.replace('_', ' ')
    this.pill.className = `pill state-${state}`
    this.pill.dataset.state = state
    this.item.dataset.state = state
  }

  preparing() {
    this.setState('preparing')
    this.error.textContent = ''
    this.detail.textContent = 'Checking size, type and quota…'
  }

  /** The intent succeeded: the row now stands for that server-side file. */
  attach(session) {
    this.fileId = session.file_id
    this.item.dataset.fileId = session.file_id
    const link = el('a', 'name', this.name)
    link.href = this.filePage.replace(ZERO_ID, session.file_id)
    this.title.replaceWith(link)
    this.title = link
    this.setState('uploading')
    this.detail.textContent = 'Connecting to storage…'
  }

  uploadStarted() {
    this.samples = []
    this.firstSample = null
    this.pauseButton.hidden = false
    this.pauseButton.textContent = 'Pause'
    if (this.state !== 'uploading') this.setState('uploading')
  }

  showProgress(bytesUploaded, bytesTotal) {
    const now = performance.now()
    const total = Math.max(bytesTotal || this.size, 1)
    this.progress.max = total
    this.progress.value = bytesUploaded
    this.item.dataset.bytesUploaded = String(bytesUploaded)
    this.firstSample ??= { time: now, bytes: bytesUploaded }
    this.samples.push({ time: now, bytes: bytesUploaded })
    while (this.samples.length > 2 && now - this.samples[0].time > SPEED_WINDOW_MS) {
      this.samples.shift()
    }
    if (this.state === 'paused') return
    const speed = this.speed()
    const parts = [
      `${Math.floor((100 * bytesUploaded) / total)}%`,
      `${formatBytes(bytesUploaded)} of ${formatBytes(total)}`,
    ]
    if (speed > 0) {
      parts.push(`${formatBytes(speed)}/s`)
      const left = formatDuration((total - bytesUploaded) / speed)
      if (left && bytesUploaded < total) parts.push(`${left} left`)
    }
    this.detail.textContent = parts.join(' · ')
  }

  speed() {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    const seconds = (last.time - first.time) / 1000
    return seconds > 0.05 ? (last.bytes - first.bytes) / seconds : 0
  }

  paused(isPaused) {
    this.pauseButton.textContent = isPaused ? 'Resume' : 'Pause'
    if (isPaused) {
      this.setState('paused')
      const done = Number(this.progress.value) || 0
      this.detail.textContent = `Paused at ${formatBytes(done)} of ${formatBytes(this.size)}.`
    } else {
      this.setState('uploading')
      this.samples = []
      this.detail.textContent = 'Resuming…'
    }
  }

  uploaded() {
    this.setState('verifying')
    this.pauseButton.hidden = true
    this.progress.value = this.progress.max
    const first = this.firstSample
    const seconds = first ? (performance.now() - first.time) / 1000 : 0
    const sent = first ? this.size - first.bytes : this.size
    const resumed = first && first.bytes > 0 ? `, resumed at ${formatBytes(first.bytes)}` : ''
    const rate = seconds > 0.05 && sent >= MIN_BYTES_FOR_RATE ? ` at ${formatBytes(sent / seconds)}/s` : ''
    this.uploadSummary = `Uploaded ${formatBytes(this.size)}${rate}${resumed}.`
    this.detail.textContent = `${this.uploadSummary} Verifying…`
  }

  /** The webapp refused the intent: nothing exists on the server for this row. */
  refuse(message) {
    this.pauseButton.hidden = true
    this.setState('refused')
    this.detail.textContent = ''
    this.error.textContent = message
  }

  fail(message) {
    this.pauseButton.hidden = true
    this.setState('failed')
    const done = Number(this.progress.value) || 0
    this.detail.textContent = done ? `Stopped at ${formatBytes(done)} of ${formatBytes(this.size)}.` : ''
    this.error.textContent = message
  }

  removed() {
    this.pauseButton.hidden = true
    this.setState('cancelled')
    this.detail.textContent = 'Cancelled; nothing was kept.'
    this.error.textContent = ''
  }

  /** The file as the API reports it now. */
  render(resource) {
    this.pauseButton.hidden = true
    // Every byte is sent; storage has yet to report the commit.
    const verifying = resource.state === 'awaiting_upload' && this.uploadSummary
    this.setState(verifying ? 'verifying' : resource.state)
    this.detail.textContent = describe(resource, this.uploadSummary)
    this.renderJobs(resource.jobs || [])
    this.error.textContent = failures(resource)
    this.renderThumbnail(resource.derivatives || [])
  }

  renderJobs(jobs) {
    this.jobs.textContent = ''
    for (const job of jobs) {
      const item = el('li', `job state-${job.state}`)
      item.dataset.step = job.step
      item.dataset.state = job.state
      item.append(el('code', '', job.step), document.createTextNode(` ${job.state}`))
      if (job.attempts > 1) item.append(el('span', 'muted', ` (attempt ${job.attempts})`))
      this.jobs.appendChild(item)
    }
  }

  renderThumbnail(derivatives) {
    const thumbnail = derivatives.find((d) => d.kind.startsWith('thumbnail') && d.url)
    if (!thumbnail || thumbnail.url === this.thumbnailUrl) return
    this.thumbnailUrl = thumbnail.url
    const image = el('img', 'thumbnail')
    image.alt = `Thumbnail of ${this.name}`
    image.src = thumbnail.url
    this.thumb.replaceChildren(image)
  }
}

function describe(resource, uploadSummary) {
  const jobs = resource.jobs || []
  const done = jobs.filter((job) => job.state === 'succeeded').length
  const prefix = uploadSummary ? `${uploadSummary} ` : ''
  switch (resource.state) {
    case 'awaiting_upload':
      return `${prefix}Verifying…`
    case 'ready':
      return `${prefix}Ready.`
    case 'failed':
      if (resource.error && !jobs.length) return 'Storage rejected the upload; nothing was stored.'
      return `${prefix}Failed.`
    case 'expired':
      return 'The upload expired before it finished.'
    default:
      if (!jobs.length) return `${prefix}Stored.`
      return `${prefix}Processing: ${done} of ${jobs.length} steps done.`
  }
}

function failures(resource) {
  const messages = []
  if (resource.error) messages.push(resource.error)
  for (const job of resource.jobs || []) {
    if (job.state === 'failed' && job.error) messages.push(`${job.step}: ${job.error}`)
    if (job.state === 'queued' && job.error) messages.push(`${job.step}: ${job.error} (will retry)`)
  }
  return messages.join(' · ')
}
