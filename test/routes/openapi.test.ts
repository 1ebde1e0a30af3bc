import { readFile } from 'node:fs/promises'
import t from 'tap'
import { buildOpenApiDocument, serialize } from '../../scripts/openapi-document.js'

t.test(
  'openapi/openapi.json is what the route schemas generate (run `npm run openapi` if not)',
  async (t) => {
    const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')
    const generated = serialize(await buildOpenApiDocument())
    t.equal(committed, generated)
    const doc = JSON.parse(generated) as {
      openapi: string
      paths: Record<string, unknown>
      components: { schemas: Record<string, unknown> }
    }
    t.equal(doc.openapi, '3.0.3')
    for (const path of [
      '/v1/flows/{flow}/runs',
      '/v1/runs/{id}',
      '/v1/runs',
      '/v1/runs/{id}/retry',
      '/v1/flows',
      '/healthz',
      '/readyz',
    ]) {
      t.ok(doc.paths[path], `documents ${path}`)
    }
    for (const name of ['ErrorResponse', 'RunDetail', 'RunItem', 'RunAccepted', 'DryRunPlan']) {
      t.ok(doc.components.schemas[name], `names the ${name} component`)
    }
  },
)
