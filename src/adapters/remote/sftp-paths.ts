/** Looking at and changing paths over SFTP: stat, rename, delete, mkdir -p. */
import type { SFTPWrapper, Stats } from 'ssh2'
import { BridgeError } from '../../domain/errors.js'
import { fileExists } from './failures.js'
import { ancestry } from './paths.js'
import { call, S_IFMT, SFTP_STATUS } from './sftp-channel.js'

/** null when nothing is there; `lstat` does not follow a symlink (a dangling link still occupies the name). */
export async function statOrNull(
  sftp: SFTPWrapper,
  path: string,
  how: 'stat' | 'lstat' = 'stat',
): Promise<Stats | null> {
  try {
    return await call<Stats>((done) => sftp[how](path, done))
  } catch (error) {
    if ((error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE) return null
    throw error
  }
}

function lstatOrNull(sftp: SFTPWrapper, path: string): Promise<Stats | null> {
  return statOrNull(sftp, path, 'lstat')
}

/** The extensions the server listed in its VERSION reply; ssh2 keeps them here, its typings do not say so. */
function offersPosixRename(sftp: SFTPWrapper): boolean {
  const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions
  return extensions?.['posix-rename@openssh.com'] === '1'
}

function plainRename(sftp: SFTPWrapper, from: string, to: string): Promise<undefined> {
  return call<undefined>((done) => sftp.rename(from, to, (error) => done(error, undefined)))
}

async function renameReplacing(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  if (offersPosixRename(sftp)) {
    // rename(2) on the server: the target is replaced in one step, never absent.
    await call<undefined>((done) => sftp.ext_openssh_rename(from, to, (error) => done(error, undefined)))
    return
  }
  // Plain SFTP rename refuses an existing target (draft-02 §6.5), so it goes first.
  // Between the delete and the rename `to` does not exist; a reader listing the
  // directory in that window sees neither version. `from` is checked first so a
  // missing source never costs the existing target.
  if (!(await lstatOrNull(sftp, from))) {
    throw new BridgeError('REMOTE_NOT_FOUND', `no such file: ${from}`)
  }
  if (await lstatOrNull(sftp, to)) {
    await call<undefined>((done) => sftp.unlink(to, (error) => done(error, undefined))).catch(
      (error: unknown) => {
        if ((error as { code?: unknown }).code !== SFTP_STATUS.NO_SUCH_FILE) throw error
      },
    )
  }
  await plainRename(sftp, from, to)
}

export async function renamePath(
  sftp: SFTPWrapper,
  from: string,
  to: string,
  overwrite: boolean,
): Promise<void> {
  if (overwrite) {
    await renameReplacing(sftp, from, to)
    return
  }
  // Servers differ (OpenSSH refuses, others replace), so the check is ours.
  if (await lstatOrNull(sftp, to)) throw fileExists(to)
  try {
    await plainRename(sftp, from, to)
  } catch (error) {
    // A target created since the check: OpenSSH answers a bare FAILURE for it.
    if ((error as { code?: unknown }).code !== SFTP_STATUS.NO_SUCH_FILE && (await lstatOrNull(sftp, to))) {
      throw fileExists(to)
    }
    throw error
  }
}

export async function deletePath(sftp: SFTPWrapper, path: string): Promise<void> {
  try {
    await call<undefined>((done) => sftp.unlink(path, (error) => done(error, undefined)))
  } catch (error) {
    if ((error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE) throw error
    const attrs = await statOrNull(sftp, path)
    if (!attrs || (attrs.mode & S_IFMT) !== 0o040000) throw error
    await call<undefined>((done) => sftp.rmdir(path, (rmdirError) => done(rmdirError, undefined)))
  }
}

export async function makeDirectories(sftp: SFTPWrapper, path: string): Promise<void> {
  const target = await statOrNull(sftp, path)
  if (target && (target.mode & S_IFMT) === 0o040000) return
  for (const step of ancestry(path)) {
    const existing = await statOrNull(sftp, step)
    if (existing && (existing.mode & S_IFMT) === 0o040000) continue
    if (existing) throw new BridgeError('REMOTE_IO', `${step} exists and is not a directory`)
    try {
      await call<undefined>((done) => sftp.mkdir(step, (error) => done(error, undefined)))
    } catch (error) {
      // Someone else may have created it in the meantime.
      const raced = await statOrNull(sftp, step)
      if (!raced || (raced.mode & S_IFMT) !== 0o040000) throw error
    }
  }
}
