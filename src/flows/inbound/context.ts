/**
 * What the stages of a source-folder run (inbound transfers and status
 * files) work with: the services, and the run driver's control of the run.
 */
import type { InboundFlow, StatusFlow } from '../../config/schema.js'
import type { BatchLimits } from '../../domain/batching.js'
import type { RunControl } from '../../runs/driver.js'
import type { FlowSchemaChecker } from '../../services/flow-schema.js'
import type { TransferServices } from '../flow-services.js'

/** Flows whose runs take files from a source folder: file transfers (inbound) and status files. */
export type SourceFolderFlow = InboundFlow | StatusFlow

export interface SourceFolderServices extends TransferServices {
  batchLimits: BatchLimits
  /** How long a batch done uploading waits to share its PUT /files (completions.ts). */
  completionWaitMs: number
  /** Checks inbound flows against the org's schema before their runs; none: not checked. */
  flowSchema?: FlowSchemaChecker
}

/** One run's stages: the services and the driver's control of that run. */
export interface RunContext extends SourceFolderServices {
  control: RunControl
}

/** A file's directory relative to the flow's source directory ('' at its root). */
export function relativeDirOf(flow: SourceFolderFlow, path: string): string {
  const root = flow.source.directory.replace(/\/+$/, '')
  const dir = path.slice(0, path.lastIndexOf('/'))
  return dir.length > root.length && dir.startsWith(`${root}/`) ? dir.slice(root.length + 1) : ''
}
