import { idSuffix } from '../../domain/record-ids.js'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

const STANDARD_PREFIXES: Record<string, string> = {
  Account: '001',
  Contact: '003',
  User: '005',
  Opportunity: '006',
  Lead: '00Q',
  Product2: '01t',
  Quote: '0Q0',
  Case: '500',
  Campaign: '701',
  Order: '801',
  Organization: '00D',
  Publisher: '033',
}

function base62(n: number, width: number): string {
  let out = ''
  let rest = n
  while (rest > 0) {
    out = BASE62[rest % 62] + out
    rest = Math.floor(rest / 62)
  }
  return out.padStart(width, '0')
}

/** Hands out 18-char ids, one 3-char key prefix per object, like an org does. */
export class IdAllocator {
  private readonly prefixes = new Map<string, string>()
  private readonly objectsByPrefix = new Map<string, string>()
  // Custom objects get a0X, a0Y, … so their ids look like real custom-object ids.
  private nextCustomPrefix = 33
  private counter = 0

  constructor() {
    for (const [name, prefix] of Object.entries(STANDARD_PREFIXES)) this.assign(name, prefix)
  }

  prefixOf(objectName: string): string {
    const known = this.prefixes.get(objectName.toLowerCase())
    if (known) return known
    let prefix: string
    do {
      prefix = `a${base62(this.nextCustomPrefix++, 2)}`
    } while (this.objectsByPrefix.has(prefix))
    this.assign(objectName, prefix)
    return prefix
  }

  /** The object an id belongs to, by its key prefix. */
  objectOf(id: string): string | undefined {
    return this.objectsByPrefix.get(id.slice(0, 3))
  }

  next(objectName: string): string {
    this.counter += 1
    const id15 = `${this.prefixOf(objectName)}5b${base62(this.counter, 10)}`
    return `${id15}${idSuffix(id15)}`
  }

  private assign(objectName: string, prefix: string): void {
    this.prefixes.set(objectName.toLowerCase(), prefix)
    this.objectsByPrefix.set(prefix, objectName)
  }
}

/** Ids are compared on their case-sensitive 15-char form, so 15- and 18-char spellings match. */
export function sameId(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.length >= 15 && a.slice(0, 15) === b.slice(0, 15)
}

export function looksLikeId(value: unknown): value is string {
  return typeof value === 'string' && /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(value)
}
