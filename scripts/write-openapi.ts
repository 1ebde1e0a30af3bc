import { writeFile } from 'node:fs/promises'
import { buildOpenApiDocument, serialize } from './openapi-document.js'

const target = new URL('../openapi/openapi.json', import.meta.url)
await writeFile(target, serialize(await buildOpenApiDocument()))
process.stdout.write(`wrote ${target.pathname}\n`)
