/** Figure 7's cells: what a timed window cost the machine and the mover, per file or per GiB. */
import { type CpuWindow, cores, coresBusy } from './cpu.js'
import { median, ratio } from './lib.js'

export interface CpuCells {
  measured: string
  baseline: string
  /** The raw client's machine CPU over the service's: the throughput ratio a CPU-bound machine allows. */
  ratio: string
}

/** Medians over the passes of the service's windows and the raw client's, per `units` of `unit`. */
export function cpuCells(unit: 'file' | 'GiB', units: number, svc: CpuWindow[], base: CpuWindow[]): CpuCells {
  const per = (ws: CpuWindow[], pick: (w: CpuWindow) => number) => median(ws.map(pick)) / units
  const show = (v: number) => (unit === 'file' ? `${(v * 1000).toFixed(2)} ms` : `${v.toFixed(2)} s`)
  const side = (ws: CpuWindow[], who: string) =>
    `${show(per(ws, (w) => w.machine))} (${who} ${show(per(ws, (w) => w.process))}), ${median(ws.map(coresBusy)).toFixed(2)} of ${cores} cores busy`
  return {
    measured: side(svc, 'service'),
    baseline: side(base, 'raw client'),
    ratio: ratio(median(base.map((w) => w.machine)), median(svc.map((w) => w.machine))),
  }
}
