/**
 * Request validation for Fastify's schema controller: two Ajv instances, so
 * a JSON body is checked as sent while the querystring, params and headers
 * (always strings on the wire) still have their numbers and booleans coerced.
 * With one instance coercing everywhere, `"recordIds": "006…"` became
 * `["006…"]` and `"recordIds": 7` became `["7"]` instead of a 400.
 */
import { Ajv, type AnySchema, type Options, type ValidateFunction } from 'ajv'

/** Fastify's own defaults (as in @fastify/ajv-compiler), before the server's customOptions. */
const FASTIFY_DEFAULTS: Options = {
  useDefaults: true,
  removeAdditional: true,
  addUsedSchema: false,
  allErrors: false,
}

/** RFC 3339 date-time, the one format request schemas may use (ajv-formats is not a dependency). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/

interface RouteSchema {
  schema: AnySchema
  httpPart?: string
}

const idOf = (schema: AnySchema): string | undefined =>
  typeof schema === 'object' && typeof schema.$id === 'string' ? schema.$id : undefined

function createAjv(externalSchemas: Record<string, unknown>, options: Options) {
  const ajv = new Ajv(options)
  ajv.addFormat('date-time', { validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) })
  for (const schema of Object.values(externalSchemas)) ajv.addSchema(schema as AnySchema)
  return (schema: AnySchema): ValidateFunction => {
    const id = idOf(schema)
    return (id ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema)
  }
}

/** `schemaController.compilersFactory.buildValidator`: the body is never coerced, the other parts are. */
export function buildRequestValidator(
  externalSchemas: Record<string, unknown>,
  serverOptions: { customOptions?: Options } = {},
) {
  const options = { ...FASTIFY_DEFAULTS, ...serverOptions.customOptions }
  const coercing = createAjv(externalSchemas, { ...options, coerceTypes: 'array' })
  const exact = createAjv(externalSchemas, { ...options, coerceTypes: false })
  return ({ schema, httpPart }: RouteSchema): ValidateFunction =>
    httpPart === 'body' ? exact(schema) : coercing(schema)
}
