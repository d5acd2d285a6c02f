// Small formatting helpers shared by the upload page's modules.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** "1.5 MiB": binary units, one decimal above bytes. */
export function formatBytes(bytes) {
  let value = Number(bytes) || 0
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`
}

/** "2 min 5 s", "40 s" or "" when unknown. */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return ''
  const whole = Math.ceil(seconds)
  if (whole < 60) return `${whole} s`
  const minutes = Math.floor(whole / 60)
  if (minutes < 60) return `${minutes} min ${whole % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** The upper-cased extension of a file name, or "" when it has none worth showing. */
export function extension(name) {
  const dot = name.lastIndexOf('.')
  return dot > 0 && name.length - dot <= 5 ? name.slice(dot + 1).toUpperCase() : ''
}

/** A DOM element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}
