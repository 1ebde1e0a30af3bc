/**
 * openapi/openapi.json is what Salesforce External Services imports to turn
 * the API into Flow actions. It must be a valid OpenAPI 3.0 document (checked
 * with a maintained validator) and keep to the External Services rules
 * (reference §7.3), each checked below by name.
 */
import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'

type Json = Record<string, unknown>

interface Operation {
  method: string
  path: string
  operationId: unknown
  op: Json
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

const doc = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Json
const paths = (doc.paths ?? {}) as Record<string, Json>
const componentSchemas = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
const operations: Operation[] = Object.entries(paths).flatMap(([path, item]) =>
  METHODS.filter((m) => isObject(item[m])).map((method) => {
    const op = item[method] as Json
    return { method, path, operationId: op.operationId, op }
  }),
)
const label = (o: Operation) =>
  `${String(o.operationId ?? '(no operationId)')} (${o.method.toUpperCase()} ${o.path})`

/** Every schema object in the document, with a JSON-pointer-like location. */
function collectSchemas(): Array<{ at: string; schema: Json }> {
  const found: Array<{ at: string; schema: Json }> = []
  const visit = (schema: unknown, at: string): void => {
    if (!isObject(schema)) return
    found.push({ at, schema })
    if (isObject(schema.properties)) {
      for (const [name, sub] of Object.entries(schema.properties)) visit(sub, `${at}/properties/${name}`)
    }
    if (isObject(schema.additionalProperties))
      visit(schema.additionalProperties, `${at}/additionalProperties`)
    if (schema.items !== undefined) visit(schema.items, `${at}/items`)
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = schema[key]
      if (!Array.isArray(list)) continue
      for (const [i, sub] of list.entries()) visit(sub, `${at}/${key}/${i}`)
    }
    if (schema.not !== undefined) visit(schema.not, `${at}/not`)
  }
  for (const [name, schema] of Object.entries(componentSchemas)) visit(schema, `#/components/schemas/${name}`)
  for (const o of operations) {
    const at = `${label(o)}`
    const params = Array.isArray(o.op.parameters) ? (o.op.parameters as unknown[]) : []
    params.forEach((p, i) => {
      if (isObject(p)) visit(p.schema, `${at} parameters/${i}`)
    })
    const body = o.op.requestBody
    if (isObject(body) && isObject(body.content)) {
      for (const [type, media] of Object.entries(body.content)) {
        if (isObject(media)) visit(media.schema, `${at} requestBody/${type}`)
      }
    }
    for (const [status, response] of Object.entries((o.op.responses ?? {}) as Record<string, Json>)) {
      if (!isObject(response.content)) continue
      for (const [type, media] of Object.entries(response.content)) {
        if (isObject(media)) visit(media.schema, `${at} responses/${status}/${type}`)
      }
    }
  }
  return found
}
const schemas = collectSchemas()

t.test('the document is valid OpenAPI 3.0 (@seriousme/openapi-schema-validator)', async (t) => {
  const validator = new Validator()
  const result = await validator.validate(structuredClone(doc))
  t.same(result.errors ?? [], [], 'no schema violations')
  t.equal(result.valid, true)
  t.equal(validator.version, '3.0', 'validated against the OpenAPI 3.0 schema')
  t.doesNotThrow(() => validator.resolveRefs(), 'every $ref resolves')
})

t.test('External Services: OpenAPI version is 3.0.x', async (t) => {
  t.match(doc.openapi, /^3\.0\.\d+$/)
})

t.test('External Services: documents the API operations (and not the SOAP listener)', async (t) => {
  t.ok(operations.length >= 10, `${operations.length} operations`)
  t.notOk(
    paths['/v1/outbound-messages/{flow}'],
    'the Outbound Message listener (SOAP, text/xml) is called by Salesforce itself, not imported',
  )
})

t.test('External Services: bodies are only JSON, form or plain text', async (t) => {
  const allowed = new Set(['application/json', 'application/x-www-form-urlencoded', 'text/plain'])
  for (const o of operations) {
    const body = o.op.requestBody
    const requestTypes = isObject(body) && isObject(body.content) ? Object.keys(body.content) : []
    const responseTypes = Object.values((o.op.responses ?? {}) as Record<string, Json>).flatMap((r) =>
      isObject(r.content) ? Object.keys(r.content) : [],
    )
    const bad = [...requestTypes, ...responseTypes].filter((type) => !allowed.has(type))
    t.same([...new Set(bad)], [], `${label(o)}: JSON, form or plain text only`, {
      hint: 'a route Salesforce cannot call as a Flow action (SOAP, SSE, files) takes schema.hide: true',
    })
  }
})

t.test('External Services: no `not` keyword anywhere', async (t) => {
  const offenders: string[] = []
  // Walks the whole document; keys of a `properties` map are property names, not keywords.
  const walk = (node: unknown, at: string, inPropertiesMap: boolean): void => {
    if (Array.isArray(node)) {
      for (const [i, sub] of node.entries()) walk(sub, `${at}/${i}`, false)
      return
    }
    if (!isObject(node)) return
    if (!inPropertiesMap && 'not' in node) offenders.push(`${at}/not`)
    for (const [key, sub] of Object.entries(node))
      walk(sub, `${at}/${key}`, !inPropertiesMap && key === 'properties')
  }
  walk(doc, '#', false)
  t.same(offenders, [])
  t.same(
    schemas.filter(({ schema }) => 'not' in schema).map(({ at }) => at),
    [],
  )
})

t.test('External Services: no request body on GET', async (t) => {
  for (const o of operations.filter((x) => x.method === 'get')) {
    t.notOk('requestBody' in o.op, `${label(o)} declares no requestBody`)
  }
})

t.test('External Services: no response headers', async (t) => {
  for (const o of operations) {
    for (const [status, response] of Object.entries((o.op.responses ?? {}) as Record<string, Json>)) {
      t.notOk(response.headers, `${label(o)} ${status} declares no headers`)
    }
  }
})

t.test('External Services: every parameter has a name, a location and a schema', async (t) => {
  for (const o of operations) {
    const params = Array.isArray(o.op.parameters) ? (o.op.parameters as Json[]) : []
    for (const p of params) {
      t.match(p.name, /^[A-Za-z][A-Za-z0-9_-]*$/, `${label(o)}: parameter named ${String(p.name)}`)
      t.ok(
        ['path', 'query', 'header'].includes(String(p.in)),
        `${label(o)}: ${String(p.name)} in ${String(p.in)}`,
      )
      t.ok(
        isObject(p.schema) && Object.keys(p.schema).length > 0,
        `${label(o)}: ${String(p.name)} has a schema`,
      )
    }
  }
})

t.test('External Services: every object property has a typed schema', async (t) => {
  const typed = (s: unknown) =>
    isObject(s) && ['$ref', 'type', 'enum', 'allOf', 'anyOf', 'oneOf'].some((key) => key in s)
  let properties = 0
  for (const { at, schema } of schemas) {
    if (!isObject(schema.properties)) continue
    for (const [name, sub] of Object.entries(schema.properties)) {
      properties++
      t.ok(typed(sub), `${at}/properties/${name} has a type or a $ref`)
    }
  }
  t.ok(properties > 50, `${properties} properties checked`)
})

t.test('External Services: no nested anonymous arrays; arrays of objects use named components', async (t) => {
  const arrays = schemas.filter(({ schema }) => schema.type === 'array')
  t.ok(arrays.length > 0)
  for (const { at, schema } of arrays) {
    const items = schema.items
    t.ok(isObject(items), `${at}: declares its items`)
    if (!isObject(items)) continue
    t.not(items.type, 'array', `${at}: items are not an inline array (List<List<T>> is unusable in Flow)`)
    const inlineObject = !('$ref' in items) && (items.type === 'object' || 'properties' in items)
    t.notOk(inlineObject, `${at}: items of objects are a named $ref component`)
    if ('$ref' in items) {
      const name = String(items.$ref).replace('#/components/schemas/', '')
      t.ok(componentSchemas[name], `${at}: ${String(items.$ref)} names a component schema`)
    }
  }
})

t.test('External Services: operationIds are present, unique and read as Flow actions', async (t) => {
  const verbs = ['get', 'list', 'create', 'start', 'retry', 'cancel', 'update', 'delete', 'check']
  const ids = operations.map((o) => o.operationId)
  for (const o of operations) {
    t.type(o.operationId, 'string', `${label(o)} has an operationId`)
    t.match(
      o.operationId,
      new RegExp(`^(${verbs.join('|')})(?:[A-Z][a-z0-9]+)+$`),
      `${label(o)}: camelCase verb + noun`,
    )
  }
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
})

/** Flow Builder (issue 16): what External Services imports but Flow cannot use. */

t.test('Flow Builder: no anyOf or oneOf anywhere', async (t) => {
  const found = schemas.filter(({ schema }) => 'anyOf' in schema || 'oneOf' in schema).map(({ at }) => at)
  t.same(found, [], 'a nullable named component is allOf + nullable; a string choice is one enum')
})

t.test('Flow Builder: no enum holding null', async (t) => {
  const found = schemas
    .filter(({ schema }) => Array.isArray(schema.enum) && (schema.enum as unknown[]).includes(null))
    .map(({ at }) => at)
  t.same(found, [])
})

/** Request body schemas, with every component they reach through $ref. */
function requestSchemas(): Array<{ at: string; schema: Json }> {
  const found: Array<{ at: string; schema: Json }> = []
  const seen = new Set<string>()
  const visit = (schema: unknown, at: string): void => {
    if (!isObject(schema)) return
    if (typeof schema.$ref === 'string') {
      const name = schema.$ref.replace('#/components/schemas/', '')
      if (!seen.has(name)) {
        seen.add(name)
        visit(componentSchemas[name], `#/components/schemas/${name}`)
      }
      return
    }
    found.push({ at, schema })
    for (const [name, sub] of Object.entries((schema.properties ?? {}) as Json))
      visit(sub, `${at}/properties/${name}`)
    if (schema.items !== undefined) visit(schema.items, `${at}/items`)
    for (const sub of (schema.allOf ?? []) as unknown[]) visit(sub, `${at}/allOf`)
    if (isObject(schema.additionalProperties))
      visit(schema.additionalProperties, `${at}/additionalProperties`)
  }
  for (const o of operations) {
    const body = o.op.requestBody
    if (!isObject(body) || !isObject(body.content)) continue
    for (const [type, media] of Object.entries(body.content)) {
      if (isObject(media)) visit(media.schema, `${label(o)} requestBody/${type}`)
    }
  }
  return found
}

t.test('Flow Builder: no map-typed request property (metadata and notify are key/value lists)', async (t) => {
  const inputs = requestSchemas()
  t.ok(inputs.length > 10, `${inputs.length} request schemas checked`)
  const maps = inputs
    .filter(
      ({ schema }) =>
        isObject(schema.additionalProperties) ||
        schema.additionalProperties === true ||
        (schema.type === 'object' && !isObject(schema.properties) && !('allOf' in schema)),
    )
    .map(({ at }) => at)
  t.same(maps, [], 'no additionalProperties map and no property-less object in a request')
  for (const [request, field] of [
    ['ExportRequest', 'metadata'],
    ['RejectionRequest', 'notify'],
  ] as const) {
    const property = (componentSchemas[request]?.properties as Json | undefined)?.[field]
    t.match(
      property,
      { type: 'array', items: { $ref: '#/components/schemas/KeyValue' } },
      `${request}.${field}`,
    )
  }
  t.same(Object.keys((componentSchemas.KeyValue?.properties ?? {}) as Json), ['key', 'value'])
})

t.test('Flow Builder: the error object and the readiness checks are named components', async (t) => {
  const error = (componentSchemas.ErrorResponse?.properties as Json | undefined)?.error
  t.same(error, { $ref: '#/components/schemas/ErrorDetail' })
  t.match(componentSchemas.ErrorDetail, { type: 'object', required: ['code', 'message'] })
  const readiness = componentSchemas.Readiness?.properties as Json | undefined
  t.same(readiness?.checks, { $ref: '#/components/schemas/ReadinessChecks' })
  t.same(readiness?.apiLimitPause, { $ref: '#/components/schemas/ApiLimitPause' })
  for (const status of ['200', '503']) {
    const responses = ((paths['/readyz'] as Json).get as Json).responses as Record<string, Json>
    const media = responses[status]!.content as Json
    t.same((media['application/json'] as Json).schema, { $ref: '#/components/schemas/Readiness' })
  }
  for (const o of operations) {
    for (const [status, response] of Object.entries((o.op.responses ?? {}) as Record<string, Json>)) {
      if (!/^[45]/.test(status) || o.path === '/readyz') continue
      const media = (response.content as Json | undefined)?.['application/json'] as Json | undefined
      t.same(media?.schema, { $ref: '#/components/schemas/ErrorResponse' }, `${label(o)} ${status}`)
    }
  }
})

t.test('Flow Builder: limit is optional everywhere, and so is every parameter with a default', async (t) => {
  let limits = 0
  for (const o of operations) {
    for (const p of (o.op.parameters ?? []) as Json[]) {
      if (p.name === 'limit') limits++
      if (p.name === 'limit' || (isObject(p.schema) && 'default' in p.schema)) {
        t.not(p.required, true, `${label(o)}: ${String(p.name)} is optional`)
      }
    }
  }
  t.ok(limits >= 4, `${limits} limit parameters`)
})
