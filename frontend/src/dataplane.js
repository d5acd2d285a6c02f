// What a failed tus request means, in words: the storage service's own reason when it
// gave one, else what its status code stands for in the tus protocol.

const MAX_REASON = 300

const STATUS_MESSAGES = {
  0: 'Network error: storage could not be reached. Retry to continue where it stopped.',
  403: 'The upload link was refused (its signature does not match).',
  404: 'This upload no longer exists (it finished, expired or was cancelled).',
  409: 'Storage rejected the upload: the bytes do not match what was declared.',
  410: 'This upload has expired.',
  413: 'Storage rejected the upload: more bytes than declared.',
  415: 'Storage rejected the upload: this type of file is not accepted.',
  422: 'Storage rejected the upload: the bytes do not match what was declared.',
  423: 'This upload is busy in another tab or window.',
  460: 'A chunk arrived damaged (checksum mismatch). Retry to send it again.',
}

/** The HTTP status behind an Uppy/tus upload error, 0 when there was no response. */
export function errorStatus(error, response) {
  if (response && Number.isInteger(response.status)) return response.status
  const original = error?.originalResponse || error?.cause?.originalResponse
  return original?.getStatus?.() || 0
}

/** The response body text, when the browser let us read it. */
export function errorText(error, response) {
  const xhr = response?.body?.xhr
  if (xhr && typeof xhr.responseText === 'string') return xhr.responseText
  const original = error?.originalResponse || error?.cause?.originalResponse
  return original?.getBody?.() || ''
}

/** One sentence for the person looking at the row. */
export function dataPlaneMessage(status, text) {
  const reason = serverReason(text)
  const known = STATUS_MESSAGES[status]
  if (reason && status) return `Storage refused the upload (HTTP ${status}): ${reason}`
  return known || `Storage refused the upload (HTTP ${status}).`
}

function serverReason(text) {
  const trimmed = (text || '').trim()
  if (!trimmed) return ''
  try {
    const body = JSON.parse(trimmed)
    const reason = body?.error?.message || body?.message || body?.detail || body?.error
    return typeof reason === 'string' ? clip(reason) : ''
  } catch {
    return trimmed.startsWith('<') ? '' : clip(trimmed)
  }
}

function clip(text) {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text
}
