/**
 * Server-side rendering for the console: preact elements written with htm
 * (tagged templates, no build step), rendered to a string. Every value is
 * escaped by the renderer; nothing here writes raw HTML.
 */
import htmModule from 'htm'
import { h, type VNode } from 'preact'
import { render } from 'preact-render-to-string'

// htm's types describe a CommonJS module (its package.json has no "type": "module"), so under
// NodeNext TypeScript sees a namespace where Node's ESM loader gives the function itself.
const htm = htmModule as unknown as (typeof htmModule)['default']

export const html = htm.bind(h)

export type Html = ReturnType<typeof html>

export function renderDocument(page: Html): string {
  return `<!doctype html>${render(page as VNode)}`
}
