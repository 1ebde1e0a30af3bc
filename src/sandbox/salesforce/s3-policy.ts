/** S3 browser-POST policies: what S-Drive builds and what S3 enforces. */

export interface PolicyDocument {
  expiration: string
  conditions: unknown[]
}

export type PolicyCheck =
  | { ok: true; lengthRange?: { min: number; max: number } }
  | { ok: false; message: string }

/** Fields S3 never asks a policy to cover. */
const EXEMPT_FIELDS = new Set(['x-amz-signature', 'file', 'policy'])

export function encodePolicy(policy: PolicyDocument): string {
  return Buffer.from(JSON.stringify(policy), 'utf8').toString('base64')
}

export function decodePolicy(base64: string): PolicyDocument | undefined {
  try {
    const value = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as Partial<PolicyDocument>
    if (typeof value.expiration !== 'string' || !Array.isArray(value.conditions)) return undefined
    return { expiration: value.expiration, conditions: value.conditions }
  } catch {
    return undefined
  }
}

/**
 * Checks the submitted form (field names lower-cased) against the policy the way S3 does:
 * expiry, every condition, and no form field the policy does not mention.
 */
export function checkPolicy(
  policy: PolicyDocument,
  fields: ReadonlyMap<string, string>,
  bucket: string,
  nowMs: number,
): PolicyCheck {
  const fail = (message: string): PolicyCheck => ({
    ok: false,
    message: `Invalid according to Policy: ${message}`,
  })
  const expiry = Date.parse(policy.expiration)
  if (Number.isNaN(expiry) || expiry < nowMs) return fail('Policy expired.')
  const submitted = new Map(fields)
  submitted.set('bucket', bucket)
  const covered = new Set<string>(['bucket'])
  let lengthRange: { min: number; max: number } | undefined
  for (const condition of policy.conditions) {
    const text = JSON.stringify(condition)
    if (Array.isArray(condition)) {
      const [operator, subject, value] = condition as unknown[]
      if (operator === 'content-length-range') {
        lengthRange = { min: Number(subject), max: Number(value) }
        continue
      }
      if (typeof subject !== 'string' || !subject.startsWith('$') || typeof value !== 'string') {
        return fail(`Policy Condition failed: ${text}`)
      }
      const name = subject.slice(1).toLowerCase()
      covered.add(name)
      const actual = submitted.get(name)
      const op = String(operator).toLowerCase()
      if (actual === undefined) return fail(`Policy Condition failed: ${text}`)
      if (op === 'eq' && actual !== value) return fail(`Policy Condition failed: ${text}`)
      if (op === 'starts-with' && !actual.startsWith(value)) return fail(`Policy Condition failed: ${text}`)
      if (op !== 'eq' && op !== 'starts-with') return fail(`Policy Condition failed: ${text}`)
      continue
    }
    if (condition === null || typeof condition !== 'object') return fail(`Policy Condition failed: ${text}`)
    for (const [rawName, value] of Object.entries(condition)) {
      const name = rawName.toLowerCase()
      covered.add(name)
      if (submitted.get(name) !== value)
        return fail(`Policy Condition failed: ["eq", "$${rawName}", ${JSON.stringify(value)}]`)
    }
  }
  const extra = [...fields.keys()].filter(
    (name) => !EXEMPT_FIELDS.has(name) && !name.startsWith('x-ignore-') && !covered.has(name),
  )
  if (extra.length > 0) return fail(`Extra input fields: ${extra.join(', ')}`)
  return lengthRange ? { ok: true, lengthRange } : { ok: true }
}
