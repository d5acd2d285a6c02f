// The upload page with JavaScript: Uppy's dashboard (drag and drop, many files,
// pause/resume) sending each file with tus straight to storage, and a row per file that
// follows it to "ready". Without JavaScript the page's plain form still posts the files.

import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import { UnfinishedList } from './unfinished.js'
import { PageUploader } from './uploader.js'

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024

function start() {
  const form = document.getElementById('upload-form')
  const target = document.getElementById('uppy-dashboard')
  if (!form || !target || !window.fetch) return
  const config = readConfig(form)
  const unfinished = new UnfinishedList(document.getElementById('unfinished-uploads'), config)
  form.addEventListener('submit', (event) => event.preventDefault())
  target.hidden = false
  form.classList.add('js-enabled', 'uppy-enabled')
  const uploader = new PageUploader({ target, config, unfinished })
  // Handy from the browser console when something looks wrong.
  window.uspUploader = uploader
}

function readConfig(form) {
  const pipelineInput = form.querySelector('[name=pipeline]')
  const chunkSize = Number.parseInt(form.dataset.chunkSize || '', 10)
  return {
    uploadsUrl: form.dataset.apiUploads,
    filesUrl: form.dataset.apiFiles,
    filePage: form.dataset.filePage,
    chunkSize: chunkSize > 0 ? chunkSize : DEFAULT_CHUNK_SIZE,
    csrfToken: csrfToken(form),
    list: document.getElementById('upload-list'),
    pipeline: () => (pipelineInput ? pipelineInput.value.trim() : ''),
  }
}

function csrfToken(form) {
  const field = form.querySelector('[name=csrfmiddlewaretoken]')
  if (field && field.value) return field.value
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/)
  return match ? decodeURIComponent(match[1]) : ''
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start)
} else {
  start()
}
