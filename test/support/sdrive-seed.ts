/** Puts files into the sandbox's S-Drive through the real three-step protocol (the bridge's own client). */
import { Readable } from 'node:stream'
import type { SDrive } from '../../src/ports/sdrive.js'

export async function seedSDriveFiles(
  sdrive: SDrive,
  target: { parentId: string; fileObject: string; parentField: string },
  files: { name: string; content: string | Buffer; contentType?: string }[],
): Promise<string[]> {
  const tickets = await sdrive.startUpload(
    target,
    files.map((f) => ({
      fileName: f.name,
      sizeBytes: Buffer.byteLength(f.content),
      contentType: f.contentType ?? 'application/pdf',
    })),
  )
  const versions: (string | null)[] = []
  for (const [i, ticket] of tickets.entries()) {
    const file = files[i] as (typeof files)[number]
    const body = Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content)
    const { versionId } = await sdrive.uploadToS3(
      ticket,
      Readable.from([body]),
      body.length,
      file.contentType ?? 'application/pdf',
    )
    versions.push(versionId)
  }
  await sdrive.completeUpload(
    tickets.map((t) => t.wipFileId),
    versions,
  )
  return tickets.map((t) => t.wipFileId)
}
