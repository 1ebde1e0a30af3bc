/** Remote paths are absolute POSIX paths; these helpers keep them that way. */
import { posix } from 'node:path'
import { BridgeError } from '../../domain/errors.js'

/** Normalises an absolute remote path; CR, LF and NUL cannot travel in either protocol. */
export function absolutePath(path: string): string {
  if (!path.startsWith('/'))
    throw new BridgeError('VALIDATION_FAILED', `remote path must be absolute: ${path}`)
  if (/[\r\n\0]/.test(path)) {
    throw new BridgeError(
      'VALIDATION_FAILED',
      `remote path contains a control character: ${JSON.stringify(path)}`,
    )
  }
  const normalized = posix.normalize(path)
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

/** The ancestors of `dir`, outermost first, `dir` included and `/` excluded. */
export function ancestry(dir: string): string[] {
  const parts = dir.split('/').filter((part) => part !== '')
  return parts.map((_, index) => `/${parts.slice(0, index + 1).join('/')}`)
}
