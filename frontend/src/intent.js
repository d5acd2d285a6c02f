// Upload intents: before any byte moves, the webapp checks size, type and quota and hands
// back a signed tus upload location on the storage service.

const KEY_VERSION = 'v1'
const GENERATIONS_KEY = 'usp.upload.generations'
const SHA256_MAX_BYTES = 16 * 1024 * 1024

const FALLBACK_MESSAGES = {
  too_large: 'The file is larger than the server accepts.',
  quota_exceeded: 'Your storage quota does not leave room for this file.',
  type_not_allowed: 'This type of file is not accepted.',
  storage_unavailable: 'Storage is unavailable right now; try again in a moment.',
}

/** The webapp refused the intent (or could not be reached): nothing was created. */
export class UploadRefused extends Error {
  constructor(message, { status = 0, code = '' } = {}) {
    super(message)
    this.name = 'UploadRefused'
    this.status = status
    this.code = code
  }
}

/** What identifies "the same file" across retries and reloads. */
export function fingerprint(file) {
  return JSON.stringify([file.name, file.size, file.lastModified || 0, file.type || ''])
}

/** FNV-1a (64 bit) of the text's UTF-8 bytes, as 16 hex digits. */
export function fnv1a64(text) {
  const prime = 0x100000001b3n
  const mask = 0xffffffffffffffffn
  let hash = 0xcbf29ce484222325n
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * prime) & mask
  }
  return hash.toString(16).padStart(16, '0')
}

/**
 * The Idempotency-Key for a file. The generation only moves on when an earlier upload of
 * the same file is finished or gone, so sending it again makes a new file rather than
 * returning the old session.
 */
export function idempotencyKey(print, generation) {
  return `upload-${KEY_VERSION}-${fnv1a64(print)}-${generation}`
}

/** Per-fingerprint generations, remembered in localStorage when the browser allows it. */
export class Generations {
  constructor(storage) {
    this.storage = storage
    this.memory = this.load()
  }

  get(print) {
    return this.memory[fnv1a64(print)] || 0
  }

  bump(print) {
    const key = fnv1a64(print)
    this.memory[key] = (this.memory[key] || 0) + 1
    this.save()
    return this.memory[key]
  }

  load() {
    try {
      const parsed = JSON.parse(this.storage?.getItem(GENERATIONS_KEY) || '{}')
      return parsed && typeof parsed === 'object' ? parsed : {}
    } catch {
      return {}
    }
  }

  save() {
    try {
      this.storage?.setItem(GENERATIONS_KEY, JSON.stringify(this.memory))
    } catch {
      // Private mode or a full quota: generations then last as long as the page.
    }
  }
}

/** The file's SHA-256 as hex when that is cheap (small file, Web Crypto available). */
export async function cheapSha256(file) {
  const subtle = globalThis.crypto?.subtle
  if (!subtle || file.size > SHA256_MAX_BYTES) return ''
  try {
    const digest = await subtle.digest('SHA-256', await file.arrayBuffer())
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
  } catch {
    return ''
  }
}

/**
 * POST the intent; resolves to {file_id, upload_url, expires_at, max_size, file}.
 * Rejects with UploadRefused carrying the server's message.
 */
export async function createIntent({ url, csrfToken, key, name, size, sha256, pipeline }) {
  const body = { name, size }
  if (sha256) body.sha256 = sha256
  if (pipeline) body.pipeline = pipeline
  let response
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        'Idempotency-Key': key,
        'X-CSRFToken': csrfToken,
      },
      body: JSON.stringify(body),
    })
  } catch {
    throw new UploadRefused('Network error: the server could not be reached.')
  }
  const payload = await readJson(response)
  if (response.ok && payload && payload.upload_url) return payload
  throw refusal(response.status, payload)
}

function refusal(status, payload) {
  const error = payload?.error || {}
  const code = typeof error.code === 'string' ? error.code : ''
  const message =
    (typeof error.message === 'string' && error.message) ||
    FALLBACK_MESSAGES[code] ||
    statusMessage(status)
  return new UploadRefused(message, { status, code })
}

function statusMessage(status) {
  if (status === 401 || status === 403) return 'Your session has ended; sign in again.'
  if (status === 413) return FALLBACK_MESSAGES.too_large
  if (status === 415) return FALLBACK_MESSAGES.type_not_allowed
  if (status >= 500) return FALLBACK_MESSAGES.storage_unavailable
  return `The server refused the upload (HTTP ${status}).`
}

async function readJson(response) {
  try {
    return JSON.parse(await response.text())
  } catch {
    return null
  }
}
