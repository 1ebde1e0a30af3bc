import { readFile, writeFile } from 'node:fs/promises'
import { renderConfigReference, spliceReference } from './config-reference.js'

const target = new URL('../docs/configuration.md', import.meta.url)
const current = await readFile(target, 'utf8')
await writeFile(target, spliceReference(current, renderConfigReference()))
process.stdout.write(`wrote the configuration reference into ${target.pathname}\n`)
