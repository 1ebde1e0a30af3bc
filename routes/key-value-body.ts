import type { FastifyRequest } from 'fastify'
import { keyValueListFromMap } from '../src/domain/key-values.js'

/**
 * A preValidation hook that turns the map form of the named body fields into
 * the documented list form, so older clients keep working while the published
 * schema holds no map (docs/api.md, "Key/value lists").
 */
export function acceptMapFormOf(...fields: string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return
    const fieldsOfBody = body as Record<string, unknown>
    for (const field of fields) {
      if (Object.hasOwn(fieldsOfBody, field)) fieldsOfBody[field] = keyValueListFromMap(fieldsOfBody[field])
    }
  }
}
