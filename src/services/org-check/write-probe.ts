/**
 * `--write`: one small probe file through the real three-step upload to a
 * record, read back through a download link (SHA-256 compared), removed per
 * sdrive.replaceMode, and nothing left behind. A probe that was killed
 * leaves a WIP record or a finished file; the next probe recognises its own
 * files by name and removes them first.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import type { BridgeConfig } from '../../config/schema.js'
import { toBridgeError } from '../../domain/errors.js'
import { check, type OrgCheck } from '../../domain/org-check.js'
import type { SalesforceApi } from '../../ports/salesforce.js'
import type { SDrive, SDriveFile, SDriveTarget } from '../../ports/sdrive.js'

/** The probe's own files: nothing else is ever removed by a probe. */
const PROBE_FILE_NAME = /^sdrive-bridge-probe-\d+\.txt$/

export interface WriteProbeDeps {
  config: BridgeConfig
  sf: SalesforceApi
  sdrive: SDrive
  now: () => number
}

export interface WriteProbeResult {
  checks: OrgCheck[]
  s3UploadUrlWorks: boolean | null
}

interface Target extends SDriveTarget {
  /** Key path of the configuration's fileObject the probe uses. */
  keyPath: string
}

/** The file object of the named flow (or of the first flow that has one), with the record as parent. */
function probeTarget(config: BridgeConfig, recordId: string, flowName?: string): Target | null {
  for (const [i, flow] of config.flows.entries()) {
    if (flowName !== undefined && flow.name !== flowName) continue
    const at = `flows[${i}]`
    if (flow.kind === 'inbound') {
      const { fileObject, parentField } = flow.target
      return { parentId: recordId, fileObject, parentField, keyPath: `${at}.target.fileObject` }
    }
    if (flow.kind === 'outbound') {
      const { fileObject, parentField } = flow.source
      return { parentId: recordId, fileObject, parentField, keyPath: `${at}.source.fileObject` }
    }
    if (flow.document) {
      const { fileObject, parentField } = flow.document
      return { parentId: recordId, fileObject, parentField, keyPath: `${at}.document.fileObject` }
    }
  }
  return null
}

const failed = (error: unknown) => {
  const e = toBridgeError(error)
  return `${e.code}: ${e.message}`
}

async function probeFiles(sdrive: SDrive, t: Target): Promise<{ wip: SDriveFile[]; done: SDriveFile[] }> {
  const ours = (files: SDriveFile[]) => files.filter((f) => PROBE_FILE_NAME.test(f.fileName))
  const [wip, done] = await Promise.all([
    sdrive.findWipFiles(t.fileObject, t.parentField, [t.parentId]),
    sdrive.findFiles(t.fileObject, t.parentField, [t.parentId]),
  ])
  return { wip: ours(wip), done: ours(done) }
}

/** Removes what an earlier, killed probe left: its WIP records (cancel) and finished files (replaceMode). */
async function cleanUp(sdrive: SDrive, t: Target): Promise<OrgCheck> {
  try {
    const { wip, done } = await probeFiles(sdrive, t)
    if (wip.length > 0)
      await sdrive.cancelUpload(
        t,
        wip.map((f) => f.id),
      )
    if (done.length > 0)
      await sdrive.removeFiles(
        t.fileObject,
        done.map((f) => f.id),
      )
    const evidence =
      wip.length + done.length === 0
        ? 'no probe file left by an earlier probe'
        : `removed what an earlier probe left: ${wip.length} WIP record(s), ${done.length} finished file(s)`
    return check('write.cleanup', 'earlier probe files removed', 'ok', evidence)
  } catch (error) {
    return check('write.cleanup', 'earlier probe files removed', 'wrong', failed(error), 'sdrive.replaceMode')
  }
}

interface Uploaded {
  id: string
  bytes: Buffer
}

/** POST /files → S3 → PUT /files; a failure after step 1 cancels the WIP record. */
async function upload(
  deps: WriteProbeDeps,
  t: Target,
  checks: OrgCheck[],
): Promise<{ uploaded: Uploaded | null; s3Works: boolean | null }> {
  const { sdrive } = deps
  const fileName = `sdrive-bridge-probe-${deps.now()}.txt`
  const bytes = Buffer.from(
    `sdrive-ftp-bridge conformance probe ${new Date(deps.now()).toISOString()} ${randomBytes(16).toString('hex')}\n`,
  )
  const spec = {
    fileName,
    sizeBytes: bytes.length,
    contentType: 'text/plain',
    description: 'sdrive-ftp-bridge probe',
  }
  let ticket: Awaited<ReturnType<SDrive['startUpload']>>[number] | undefined
  try {
    ;[ticket] = await sdrive.startUpload(t, [spec])
  } catch (error) {
    checks.push(
      check('write.upload', 'three-step upload', 'wrong', `POST /files: ${failed(error)}`, t.keyPath),
    )
    return { uploaded: null, s3Works: null }
  }
  if (!ticket) return { uploaded: null, s3Works: null }
  let versionId: string | null
  try {
    ;({ versionId } = await sdrive.uploadToS3(ticket, Readable.from([bytes]), bytes.length, 'text/plain'))
  } catch (error) {
    await sdrive.cancelUpload(t, [ticket.wipFileId]).catch(() => undefined)
    checks.push(
      check(
        'write.upload',
        'three-step upload',
        'wrong',
        `S3 upload: ${failed(error)}`,
        'sdrive.s3UploadUrl',
      ),
    )
    return { uploaded: null, s3Works: false }
  }
  try {
    const [result] = await sdrive.completeUpload([ticket.wipFileId], [versionId])
    if (!result?.success) throw new Error(result?.message ?? 'S-Drive did not confirm the upload')
  } catch (error) {
    await sdrive.cancelUpload(t, [ticket.wipFileId]).catch(() => undefined)
    checks.push(
      check('write.upload', 'three-step upload', 'wrong', `PUT /files: ${failed(error)}`, t.keyPath),
    )
    return { uploaded: null, s3Works: true }
  }
  checks.push(
    check(
      'write.upload',
      'three-step upload',
      'ok',
      `${fileName} (${bytes.length} bytes) uploaded to ${t.fileObject} of ${t.parentId}`,
    ),
  )
  return { uploaded: { id: ticket.wipFileId, bytes }, s3Works: true }
}

const encodeIds = (ids: string[], encoding: 'comma' | 'json') =>
  encodeURIComponent(encoding === 'json' ? JSON.stringify(ids) : ids.join(','))

/** The link through the adapter (configured encoding), and one asked with the other encoding, to learn which the org takes. */
async function downloadLink(deps: WriteProbeDeps, t: Target, id: string): Promise<string | null> {
  const { config, sf, sdrive } = deps
  const configured = await sdrive.downloadUrls([{ id, parentId: t.parentId }]).then(
    (urls) => urls[0] ?? null,
    () => null,
  )
  const other = config.sdrive.idListEncoding === 'json' ? 'comma' : 'json'
  const query = `fileObjectId=${encodeIds([id], other)}&parentId=${encodeIds([t.parentId], other)}&timeValue=60`
  const alternative = await sf
    .apex<{ fileUrls?: unknown }>('GET', `${config.sdrive.filesPath}?${query}`)
    .then(
      (answer) =>
        Array.isArray(answer?.fileUrls) && typeof answer.fileUrls[0] === 'string' ? answer.fileUrls[0] : null,
      () => null,
    )
  return configured ?? alternative
}

async function readBack(deps: WriteProbeDeps, t: Target, uploaded: Uploaded): Promise<OrgCheck> {
  const title = 'read back through the download link'
  const url = await downloadLink(deps, t, uploaded.id)
  if (!url)
    return check(
      'write.download',
      title,
      'wrong',
      'GET /files gave no link with either id list encoding',
      'sdrive.idListEncoding',
    )
  try {
    const { stream } = await deps.sdrive.openDownload(url)
    const hash = createHash('sha256')
    for await (const chunk of stream) hash.update(chunk as Buffer)
    const got = hash.digest('hex')
    const sent = createHash('sha256').update(uploaded.bytes).digest('hex')
    return got === sent
      ? check('write.download', title, 'ok', `SHA-256 ${sent} matches`)
      : check('write.download', title, 'wrong', `SHA-256 differs: sent ${sent}, read ${got}`)
  } catch (error) {
    return check('write.download', title, 'wrong', failed(error))
  }
}

async function removeAndConfirm(
  deps: WriteProbeDeps,
  t: Target,
  uploaded: Uploaded | null,
): Promise<OrgCheck[]> {
  const checks: OrgCheck[] = []
  const mode = deps.config.sdrive.replaceMode
  if (uploaded) {
    try {
      await deps.sdrive.removeFiles(t.fileObject, [uploaded.id])
      checks.push(
        check(
          'write.remove',
          `removed (${mode})`,
          'ok',
          `${uploaded.id} removed per replaceMode ${mode}`,
          'sdrive.replaceMode',
        ),
      )
    } catch (error) {
      checks.push(check('write.remove', `removed (${mode})`, 'wrong', failed(error), 'sdrive.replaceMode'))
    }
  }
  try {
    const { wip, done } = await probeFiles(deps.sdrive, t)
    const left = [...wip, ...done]
    checks.push(
      left.length === 0
        ? check(
            'write.nothingLeft',
            'nothing left behind',
            'ok',
            'no probe file and no WIP record on the record',
          )
        : check(
            'write.nothingLeft',
            'nothing left behind',
            'wrong',
            `left: ${left.map((f) => `${f.fileName} (${f.id})`).join(', ')}`,
          ),
    )
  } catch (error) {
    checks.push(check('write.nothingLeft', 'nothing left behind', 'unknown', failed(error)))
  }
  return checks
}

export async function writeProbe(
  deps: WriteProbeDeps,
  recordId: string,
  flowName?: string,
): Promise<WriteProbeResult> {
  const t = probeTarget(deps.config, recordId, flowName)
  if (!t) {
    const why = flowName
      ? `flow "${flowName}" names no S-Drive file object`
      : 'no flow names an S-Drive file object'
    return { checks: [check('write.target', 'probe target', 'wrong', why, 'flows')], s3UploadUrlWorks: null }
  }
  const checks = [await cleanUp(deps.sdrive, t)]
  const { uploaded, s3Works } = await upload(deps, t, checks)
  if (uploaded) checks.push(await readBack(deps, t, uploaded))
  checks.push(...(await removeAndConfirm(deps, t, uploaded)))
  return { checks, s3UploadUrlWorks: s3Works }
}
