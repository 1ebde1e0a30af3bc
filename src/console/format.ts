/** How the console writes times, sizes and states: short, and the same on every page. */

export function formatTime(iso: string | null): string {
  if (!iso) return '—'
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** The CSS class of a run or item state: ok, bad, busy or idle. */
export function stateClass(state: string): string {
  if (state === 'succeeded' || state === 'done') return 'state state-ok'
  if (state === 'failed' || state === 'partially_failed') return 'state state-bad'
  if (state === 'running' || state === 'transferring' || state === 'finalizing') return 'state state-busy'
  return 'state state-idle'
}

/** A console URL with its query, empty values left out. */
export function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value)
  const text = params.toString()
  return text ? `${path}?${text}` : path
}
