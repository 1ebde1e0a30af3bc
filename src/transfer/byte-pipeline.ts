/**
 * The byte path: a source stream through a list of stages to whoever
 * consumes it (an S3 upload, a remote write). Each stage is one Transform (or Duplex) and
 * node's pipeline() joins them, so a failure anywhere (the source, a stage,
 * the abort signal, the consumer destroying what it reads) destroys the whole
 * chain and reaches both ends. Nothing here knows where the bytes come from
 * or go: a new transform of the bytes is one more stage in a direction's list
 * (byte-stages.ts).
 */
import type { Duplex, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BridgeError } from '../domain/errors.js'

/** A stage opened for one transfer. */
export interface OpenByteStage<Result> {
  /** Usually a Transform; a Duplex where the work is done by a library with streams of its own (PGP). */
  readonly transform: Duplex
  /** What the stage found (digests, a count); read once every byte went through. */
  result?(): Result
}

/** A named step of the byte path; `open` makes a fresh Transform for each transfer. */
export interface ByteStage<Name extends string = string, Result = unknown> {
  readonly name: Name
  open(): OpenByteStage<Result>
}

/** At least one stage: a path without any is the source itself and needs no pipeline. */
export type ByteStages = readonly [ByteStage, ...ByteStage[]]

/** Each stage's result under the stage's name. */
export type ByteStageResults<S extends ByteStages> = {
  [Stage in S[number] as Stage['name']]: Stage extends ByteStage<string, infer Result> ? Result : never
}

export interface BytePathRequest<S extends ByteStages> {
  source: Readable
  /** In the order the bytes go through them. */
  stages: S
  /** Aborting destroys the source and every stage. */
  signal?: AbortSignal | undefined
}

export interface BytePath<S extends ByteStages> {
  /** The last stage's output, for the consumer. Destroying it destroys the source too. */
  readonly stream: Readable
  /** Settles once every stage has passed on its last byte; rejects with the first failure. */
  readonly done: Promise<void>
  /** The stages' results by name; only after `done` resolved. */
  results(): ByteStageResults<S>
}

export function composeBytePath<const S extends ByteStages>(request: BytePathRequest<S>): BytePath<S> {
  assertDistinctNames(request.stages.map((stage) => stage.name))
  const opened = request.stages.map((stage) => ({ name: stage.name, stage: stage.open() }))
  const transforms = opened.map((o) => o.stage.transform)
  let finished = false
  const done = pipeline([request.source, ...transforms], { signal: request.signal }).then(() => {
    finished = true
  })
  // The consumer learns of a failure from the stream it reads; `done` may then have no one awaiting it.
  done.catch(() => undefined)
  let results: ByteStageResults<S> | undefined
  return {
    stream: transforms[transforms.length - 1] as Readable,
    done,
    results() {
      if (!finished) {
        throw new BridgeError('INTERNAL', 'byte path results were read before its last byte went through')
      }
      results ??= Object.fromEntries(opened.map((o) => [o.name, o.stage.result?.()])) as ByteStageResults<S>
      return results
    },
  }
}

/** Results are keyed by name: two stages of one name would hide one's result. */
function assertDistinctNames(names: readonly string[]): void {
  const repeated = names.find((name, index) => names.indexOf(name) !== index)
  if (repeated !== undefined) {
    throw new BridgeError('INTERNAL', `byte path has two stages named ${JSON.stringify(repeated)}`)
  }
}
