// Uppy wired to the system: an intent per file (idempotent on the file's fingerprint),
// then tus straight to the pre-created, signed upload location on storage.

import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import Tus from '@uppy/tus'
import { dataPlaneMessage, errorStatus, errorText } from './dataplane.js'
import { follow } from './follow.js'
import {
  cheapSha256,
  createIntent,
  fingerprint,
  Generations,
  idempotencyKey,
  UploadRefused,
} from './intent.js'
import { FileRow } from './rows.js'

const PARALLEL_FILES = 3
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000]
const GONE = new Set([404, 410])
// How long a vanished session may stay "awaiting upload" before we call it gone.
const GONE_POLLS = 5

export class PageUploader {
  constructor({ target, config, unfinished }) {
    this.config = config
    this.unfinished = unfinished
    this.rows = new Map()
    this.sessions = new Map()
    this.stoppers = new Map()
    this.staleSessions = new Set()
    this.recovered = new Set()
    this.generations = new Generations(safeLocalStorage())
    this.uppy = this.createUppy(target)
    this.listen()
  }

  createUppy(target) {
    const uppy = new Uppy({ id: 'usp-upload', autoProceed: true })
    uppy.use(Dashboard, {
      inline: true,
      target,
      width: '100%',
      height: 340,
      proudlyDisplayPoweredByUppy: false,
      hideProgressAfterFinish: false,
      note: 'Files go straight to storage and resume where they stopped.',
    })
    uppy.use(Tus, {
      chunkSize: this.config.chunkSize,
      retryDelays: RETRY_DELAYS,
      limit: PARALLEL_FILES,
      withCredentials: false,
      // The intent hands back the same session for the same file; the server's offset
      // is the only resume state, so nothing is kept in localStorage.
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: true,
    })
    uppy.addPreProcessor((fileIDs) => this.prepare(fileIDs))
    return uppy
  }

  listen() {
    const on = (event, handler) => this.uppy.on(event, handler.bind(this))
    on('file-added', this.onFileAdded)
    on('file-removed', this.onFileRemoved)
    on('upload-start', this.onUploadStart)
    on('upload-progress', this.onProgress)
    on('upload-pause', this.onPause)
    on('upload-success', this.onSuccess)
    on('upload-error', this.onError)
  }

  onFileAdded(file) {
    const row = new FileRow({
      list: this.config.list,
      name: file.name,
      size: file.size,
      filePage: this.config.filePage,
      onPauseResume: () => this.uppy.pauseResume(file.id),
    })
    this.rows.get(file.id)?.item.remove()
    this.rows.set(file.id, row)
  }

  /** Before tus runs: every file gets its session; refusals fail only their own file. */
  async prepare(fileIDs) {
    await Promise.all(fileIDs.map((id) => this.prepareOne(id)))
  }

  async prepareOne(fileID) {
    const file = this.uppy.getFile(fileID)
    const row = this.rows.get(fileID)
    if (!file || file.error || !row) return
    if (this.sessions.has(fileID) && !this.staleSessions.has(fileID)) return
    row.preparing()
    try {
      const session = await this.openSession(file)
      this.sessions.set(fileID, session)
      this.uppy.setFileState(fileID, { tus: { ...file.tus, uploadUrl: session.upload_url } })
      row.attach(session)
      this.unfinished.claim(session.file_id)
    } catch (error) {
      const refusal =
        error instanceof UploadRefused ? error : new UploadRefused(String(error?.message || error))
      row.refuse(refusal.message)
      this.uppy.emit('upload-error', this.uppy.getFile(fileID), refusal)
    }
  }

  async openSession(file) {
    const print = fingerprint(file.data)
    let generation = this.generations.get(print)
    if (this.staleSessions.delete(file.id)) generation = this.generations.bump(print)
    const sha256 = await cheapSha256(file.data)
    const request = (gen) =>
      createIntent({
        url: this.config.uploadsUrl,
        csrfToken: this.config.csrfToken,
        key: idempotencyKey(print, gen),
        name: file.name,
        size: file.size,
        sha256,
        pipeline: this.config.pipeline(),
      })
    const session = await request(generation).catch((error) => {
      // The key was used before for a different request (other steps, say): start afresh.
      if (error instanceof UploadRefused && error.code === 'idempotency_key_reused') {
        return request(this.generations.bump(print))
      }
      throw error
    })
    if (!session.file || session.file.state === 'awaiting_upload') return session
    // This very file was uploaded before under this key: sending it again is a new upload.
    return request(this.generations.bump(print))
  }

  onUploadStart(files) {
    for (const file of files) this.rows.get(file.id)?.uploadStarted()
  }

  onProgress(file, progress) {
    if (!file) return
    this.rows.get(file.id)?.showProgress(progress.bytesUploaded, progress.bytesTotal)
  }

  onPause(file, isPaused) {
    if (file) this.rows.get(file.id)?.paused(isPaused)
  }

  onSuccess(file) {
    const row = file && this.rows.get(file.id)
    const session = file && this.sessions.get(file.id)
    if (!row || !session) return
    row.uploaded()
    this.follow(file.id, session.file_id)
  }

  onError(file, error, response) {
    const row = file && this.rows.get(file.id)
    if (!row || error instanceof UploadRefused) return
    const status = errorStatus(error, response)
    const message = dataPlaneMessage(status, errorText(error, response))
    row.fail(message)
    const session = this.sessions.get(file.id)
    if (!session || status === 0) return
    if (GONE.has(status)) {
      this.recoverGoneSession(file.id, session)
    } else {
      // Storage rejected the bytes; the file's own state says why, once it is recorded.
      this.follow(file.id, session.file_id, { keepMessage: message })
    }
  }

  /**
   * The session vanished. If storage rejected the upload, say why; if it finished,
   * expired or was removed earlier, start a fresh session once and send the file again.
   */
  recoverGoneSession(fileID, session) {
    let polls = 0
    const retry = () => {
      if (this.recovered.has(fileID) || !this.uppy.getFile(fileID)) return
      this.recovered.add(fileID)
      this.staleSessions.add(fileID)
      this.uppy.retryUpload(fileID)
    }
    this.stoppers.get(fileID)?.()
    const stop = follow({
      url: this.fileUrl(session.file_id),
      onGone: retry,
      until: (resource) => resource.state !== 'awaiting_upload' || polls >= GONE_POLLS,
      onUpdate: (resource) => {
        polls += 1
        if (resource.state === 'failed') this.rows.get(fileID)?.render(resource)
        else if (resource.state !== 'awaiting_upload' || polls >= GONE_POLLS) retry()
      },
    })
    this.stoppers.set(fileID, stop)
  }

  follow(fileID, fileId, { keepMessage = '' } = {}) {
    this.stoppers.get(fileID)?.()
    const row = this.rows.get(fileID)
    const stop = follow({
      url: this.fileUrl(fileId),
      live: true,
      onUpdate: (resource) => {
        if (keepMessage && resource.state === 'awaiting_upload') return
        row.render(resource)
        if (keepMessage && !row.error.textContent) row.error.textContent = keepMessage
      },
      onGone: () => row.fail('The file was removed.'),
      onTrouble: (text) => {
        row.detail.textContent = text
      },
    })
    this.stoppers.set(fileID, stop)
  }

  onFileRemoved(file) {
    this.stoppers.get(file.id)?.()
    this.stoppers.delete(file.id)
    const row = this.rows.get(file.id)
    const session = this.sessions.get(file.id)
    if (!row || !['waiting', 'preparing', 'uploading', 'paused'].includes(row.state)) return
    row.removed()
    // Tus terminates what it had started; the webapp also frees the reservation.
    if (session) this.discard(session.file_id)
  }

  discard(fileId) {
    fetch(this.fileUrl(fileId), {
      method: 'DELETE',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-CSRFToken': this.config.csrfToken },
    }).catch(() => {})
  }

  fileUrl(fileId) {
    return `${this.config.filesUrl}${encodeURIComponent(fileId)}/`
  }
}

function safeLocalStorage() {
  try {
    return window.localStorage
  } catch {
    return null
  }
}
