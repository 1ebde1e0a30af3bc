/**
 * CPU time, read from /proc: of one process, and of the whole machine (every
 * process, the kernel's interrupt work included). On a 2-core machine where
 * the service, the SFTP/FTP server and the S3 emulator all run, a transfer
 * figure is bounded by the CPU all of them spend per file, not by the
 * service alone: these let the bench print both sides of that sum.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/** Clock ticks per second of /proc's counters (USER_HZ, 100 on Linux). */
const TICKS = 100

export interface ProcessCpu {
  user: number
  system: number
}

/** User and system CPU seconds a process has spent so far (/proc/<pid>/stat). */
export function processCpu(pid: number): ProcessCpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS }
}

export const cpuTotal = (c: ProcessCpu) => c.user + c.system

/** CPU seconds every core of the machine has spent busy so far (/proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS
}

/** What a timed window cost: wall seconds, the machine's busy CPU seconds, and one process's CPU seconds. */
export interface CpuWindow {
  seconds: number
  machine: number
  process: number
}

/** Starts a window over the machine and process `pid`; the returned function closes it. */
export function cpuWindow(pid: number): () => CpuWindow {
  const t0 = process.hrtime.bigint()
  const machine0 = machineBusySeconds()
  const own0 = cpuTotal(processCpu(pid))
  return () => ({
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    machine: machineBusySeconds() - machine0,
    process: cpuTotal(processCpu(pid)) - own0,
  })
}

/** How many cores were busy on average over a window. */
export const coresBusy = (w: CpuWindow) => w.machine / w.seconds

export const cores = availableParallelism()
