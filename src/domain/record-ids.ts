/** Salesforce record ids: 15-char case-sensitive, 18-char with a case-safe suffix. */

const ALNUM = /^[a-zA-Z0-9]+$/
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'

/** The 3-char suffix that makes a 15-char id case-insensitive. */
export function idSuffix(id15: string): string {
  let suffix = ''
  for (let block = 0; block < 3; block++) {
    let bits = 0
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(block * 5 + i)
      if (c >= 65 && c <= 90) bits |= 1 << i
    }
    suffix += SUFFIX_CHARS[bits]
  }
  return suffix
}

export function looksLikeRecordId(value: string): boolean {
  if (!ALNUM.test(value) || !/[0-9]/.test(value)) return false
  if (value.length === 15) return true
  if (value.length === 18) return idSuffix(value.slice(0, 15)) === value.slice(15).toUpperCase()
  return false
}

/** The 15-char form, the one to compare on (case-sensitive). */
export function id15(id: string): string {
  return id.slice(0, 15)
}

export function toId18(id: string): string {
  if (id.length === 18) return id
  return `${id}${idSuffix(id)}`
}
