import { randomBytes } from 'node:crypto'

/**
 * Time-sortable ids: prefix + 12 hex digits of the millisecond timestamp +
 * 20 hex digits (80 bits) of randomness. Within one generator the random part
 * is incremented when the millisecond repeats (as ULID does), so ids from one
 * process sort in creation order; across processes the 80 random bits keep
 * them unique.
 */
export interface TimeId {
  id: string
  /** The millisecond the id encodes; use it as the record's created_at so both sort alike. */
  ms: number
}

export type IdGenerator = (prefix: string) => TimeId

const randomBits = 80n
const randomLimit = 1n << randomBits

export function createIdGenerator(now: () => number = Date.now): IdGenerator {
  let lastMs = -1
  let lastRandom = 0n
  return (prefix) => {
    let ms = Math.max(Math.trunc(now()), 0)
    let random: bigint
    if (ms <= lastMs) {
      // Same (or an earlier, if the clock stepped back) millisecond: stay monotonic.
      ms = lastMs
      random = lastRandom + 1n
      if (random >= randomLimit) {
        ms += 1
        random = freshRandom()
      }
    } else {
      random = freshRandom()
    }
    lastMs = ms
    lastRandom = random
    return {
      id: `${prefix}${ms.toString(16).padStart(12, '0')}${random.toString(16).padStart(20, '0')}`,
      ms,
    }
  }
}

function freshRandom(): bigint {
  // Leave the top bit clear so a long run of increments within one millisecond cannot overflow.
  const bytes = randomBytes(10)
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return BigInt(`0x${bytes.toString('hex')}`)
}
