/** Which directories an endpoint check looks at: the ones the configured flows use on that endpoint. */
import type { Flow } from '../../config/schema.js'
import { absolutePath } from './paths.js'

/** The fixed part of a templated directory: everything before the segment holding the first `{`. */
export function templateBase(directory: string): string {
  const brace = directory.indexOf('{')
  if (brace === -1) return absolutePath(directory)
  const prefix = directory.slice(0, brace)
  return absolutePath(prefix.slice(0, prefix.lastIndexOf('/') + 1) || '/')
}

/**
 * Inbound flows reading from the endpoint contribute their source, processed
 * and error directories; outbound flows delivering to it the base of their
 * destination template. In configuration order, without duplicates.
 */
export function endpointDirectories(flows: readonly Flow[], endpoint: string): string[] {
  const directories: string[] = []
  for (const flow of flows) {
    if (flow.kind === 'inbound' && flow.source.endpoint === endpoint) {
      directories.push(absolutePath(flow.source.directory))
      if (flow.after.processedDirectory) directories.push(absolutePath(flow.after.processedDirectory))
      directories.push(absolutePath(flow.after.errorDirectory))
    } else if (flow.kind === 'outbound' && flow.destination.endpoint === endpoint) {
      directories.push(templateBase(flow.destination.directory))
    }
  }
  return [...new Set(directories)]
}
