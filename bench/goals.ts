/**
 * The goal table of issue 17: every figure as measured (median, min–max), its baseline measured
 * in the same run (median, min–max), their ratio, the goal and whether the goal is met.
 * One module so that each part of the bench shapes its rows the same way.
 */
import { median } from './lib.js'

/** The median of a figure's passes, with the lowest and highest beside it. */
export interface Spread {
  median: number
  min: number
  max: number
  passes: number
}

export function spread(values: number[]): Spread {
  if (values.length === 0) throw new Error('a figure needs at least one pass')
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), passes: values.length }
}

/** "12.3 (11.0–14.2)" with `digits` decimals and a unit after the median. */
export function showSpread(s: Spread, digits = 1, unit = ''): string {
  const f = (n: number) => n.toFixed(digits)
  return `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`
}

export interface GoalRow {
  figure: string
  measured: string
  baseline: string
  ratio: string
  goal: string
  /** null: not measured in this run (the reason is in the measured column). */
  met: boolean | null
}

/** Every figure's label in the goal table, in its order: the bench prints each, always. */
export const GOAL_FIGURES = [
  'G1 inbound SFTP',
  'G1 inbound FTP',
  'G1 outbound SFTP',
  'G1 outbound FTP',
  'G2 inbound SFTP',
  'G2 inbound FTP',
  'G2 outbound SFTP',
  'G2 outbound FTP',
  'G3 batch inbound',
  'G3 batch Salesforce calls',
  'G4 RSS at rest',
  'G4 peak growth',
  'G5 CPU per GiB',
  'G6 POST /v1/exports accept path',
  'G7 POST /v1/exports while',
  'G8 npm test wall',
  'G8 slowest test file',
] as const

export function printGoalTable(
  rows: GoalRow[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): void {
  const header = [
    'figure',
    'measured: median (min–max)',
    'baseline: median (min–max)',
    'ratio',
    'goal',
    'met',
  ]
  const cells = rows.map((r) => [
    r.figure,
    r.measured,
    r.baseline,
    r.ratio,
    r.goal,
    r.met === null ? 'n/a' : r.met ? 'yes' : 'NO',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |\n`
  out(line(header))
  out(line(widths.map((w) => '-'.repeat(w))))
  for (const c of cells) out(line(c))
}

/** Rows of the table whose figure starts with none of GOAL_FIGURES' labels: what a part forgot. */
export function missingFigures(rows: GoalRow[]): string[] {
  return GOAL_FIGURES.filter((label) => !rows.some((r) => r.figure.startsWith(label)))
}

/** A throughput row: times in seconds per pass for the service and the baseline moving `bytes`. */
export function throughputRow(
  figure: string,
  bytes: number,
  files: number,
  service: number[],
  baseline: number[],
  goal: number,
): GoalRow {
  const perSecond = (seconds: number[]) =>
    files > 1 ? spread(seconds.map((s) => files / s)) : spread(seconds.map((s) => bytes / 1024 / 1024 / s))
  const unit = files > 1 ? ' files/s' : ' MiB/s'
  const r = median(baseline) / median(service)
  return {
    figure,
    measured: showSpread(perSecond(service), files > 1 ? 0 : 1, unit),
    baseline: showSpread(perSecond(baseline), files > 1 ? 0 : 1, unit),
    ratio: r.toFixed(2),
    goal: `≥ ${goal} of raw`,
    met: r >= goal,
  }
}
