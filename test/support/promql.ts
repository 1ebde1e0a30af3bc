/**
 * Just enough PromQL to evaluate the sample alerts of docs/operations.md
 * against real scrapes of the service: a tokenizer, a recursive-descent
 * parser and an instant evaluator for selectors (instant and range), `sum by`,
 * `increase`, `rate`, `min_over_time`, `histogram_quantile`, `time()` and the
 * binary operators. Anything else throws, so a documented alert that uses
 * more than this fails its test instead of passing unexamined.
 *
 * Simplifications, stated: a range holds the scrapes taken inside it (no
 * extrapolation, no counter resets); `rate` is that increase over the range.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Scrape {
  /** Unix seconds. */
  at: number
  samples: Sample[]
}

type Matcher = { label: string; op: '=' | '!=' | '=~' | '!~'; value: string }
export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'selector'; name: string; matchers: Matcher[]; rangeSeconds?: number }
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'aggregate'; op: 'sum' | 'min' | 'max'; by: string[]; expr: Expr }
  | { kind: 'binary'; op: string; lhs: Expr; rhs: Expr }

type Token = { type: 'ident' | 'number' | 'string' | 'op' | 'duration'; text: string }

const TOKEN =
  /\s*(?:(?<duration>\[\d+[smhdwy]\])|(?<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?<string>"(?:[^"\\]|\\.)*")|(?<op>==|!=|=~|!~|>=|<=|[-+*/(){},=><]))/y

export function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < source.length) {
    if (/^\s*$/.test(source.slice(TOKEN.lastIndex))) break
    const at = TOKEN.lastIndex
    const m = TOKEN.exec(source)
    if (!m?.groups) throw new Error(`PromQL: cannot read ${JSON.stringify(source.slice(at))}`)
    const [type, text] = Object.entries(m.groups).find(([, v]) => v !== undefined) as [Token['type'], string]
    tokens.push({ type, text })
  }
  return tokens
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }
const PRECEDENCE: Record<string, number> = {
  '==': 1,
  '!=': 1,
  '>': 1,
  '<': 1,
  '>=': 1,
  '<=': 1,
  '+': 2,
  '-': 2,
  '*': 3,
  '/': 3,
}
const AGGREGATIONS = new Set(['sum', 'min', 'max'])
const FUNCTIONS = new Set(['increase', 'rate', 'min_over_time', 'histogram_quantile', 'time'])

export function parsePromQL(source: string): Expr {
  const tokens = tokenize(source)
  let i = 0
  const peek = () => tokens[i]
  const next = () => {
    const t = tokens[i++]
    if (!t) throw new Error(`PromQL: unexpected end of ${source}`)
    return t
  }
  const expect = (text: string) => {
    const t = next()
    if (t.text !== text) throw new Error(`PromQL: expected ${text}, got ${t.text} in ${source}`)
  }
  const labelList = (): string[] => {
    expect('(')
    const names: string[] = []
    while (peek()?.text !== ')') {
      names.push(next().text)
      if (peek()?.text === ',') next()
    }
    expect(')')
    return names
  }
  const selector = (name: string): Expr => {
    const matchers: Matcher[] = []
    if (peek()?.text === '{') {
      next()
      while (peek()?.text !== '}') {
        const label = next().text
        const op = next().text as Matcher['op']
        const value = JSON.parse(next().text) as string
        matchers.push({ label, op, value })
        if (peek()?.text === ',') next()
      }
      expect('}')
    }
    const range = peek()?.type === 'duration' ? next().text : undefined
    if (!range) return { kind: 'selector', name, matchers }
    const [, n, unit] = /^\[(\d+)([a-z])\]$/.exec(range) as RegExpExecArray
    return {
      kind: 'selector',
      name,
      matchers,
      rangeSeconds: Number(n) * (UNIT_SECONDS[unit as string] as number),
    }
  }
  const primary = (): Expr => {
    const t = next()
    if (t.type === 'number') return { kind: 'number', value: Number(t.text) }
    if (t.text === '(') {
      const inner = expression(0)
      expect(')')
      return inner
    }
    if (t.type !== 'ident') throw new Error(`PromQL: unexpected ${t.text} in ${source}`)
    if (AGGREGATIONS.has(t.text)) {
      const hasBy = peek()?.text === 'by'
      if (hasBy) next()
      const by = hasBy ? labelList() : []
      expect('(')
      const expr = expression(0)
      expect(')')
      return { kind: 'aggregate', op: t.text as 'sum', by, expr }
    }
    if (peek()?.text === '(') {
      if (!FUNCTIONS.has(t.text)) throw new Error(`PromQL: function ${t.text} is not supported here`)
      next()
      const args: Expr[] = []
      while (peek()?.text !== ')') {
        args.push(expression(0))
        if (peek()?.text === ',') next()
      }
      expect(')')
      return { kind: 'call', fn: t.text, args }
    }
    return selector(t.text)
  }
  const expression = (minPrecedence: number): Expr => {
    let lhs = primary()
    for (;;) {
      const op = peek()?.text
      const p = op === undefined ? undefined : PRECEDENCE[op]
      if (op === undefined || p === undefined || p < minPrecedence) break
      next()
      const rhs = expression(p + 1)
      lhs = { kind: 'binary', op, lhs, rhs }
    }
    return lhs
  }
  const result = expression(0)
  if (i !== tokens.length) throw new Error(`PromQL: trailing ${tokens[i]?.text} in ${source}`)
  return result
}

/** Every selector of the expression, with the label names the expression uses on its path (matchers, `by`). */
export function selectorsOf(expr: Expr, outerLabels: string[] = []): { name: string; labels: string[] }[] {
  switch (expr.kind) {
    case 'number':
      return []
    case 'selector':
      return [
        { name: expr.name, labels: [...new Set([...expr.matchers.map((m) => m.label), ...outerLabels])] },
      ]
    case 'call':
      return expr.args.flatMap((a) => selectorsOf(a, outerLabels))
    case 'aggregate':
      return selectorsOf(expr.expr, [...outerLabels, ...expr.by])
    case 'binary':
      return [...selectorsOf(expr.lhs, outerLabels), ...selectorsOf(expr.rhs, outerLabels)]
  }
}

/** Parses the Prometheus text exposition format (what /metrics answers). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m) throw new Error(`exposition: cannot read ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = JSON.parse(`"${l[2]}"`) as string
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return samples
}

type Series = { labels: Record<string, string>; value: number }
type Value = { type: 'scalar'; value: number } | { type: 'vector'; series: Series[] }
type Matrix = { labels: Record<string, string>; points: { at: number; value: number }[] }[]

const keyOf = (labels: Record<string, string>) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))

function matches(sample: Sample, name: string, matchers: Matcher[]): boolean {
  if (sample.name !== name) return false
  return matchers.every((m) => {
    const v = sample.labels[m.label] ?? ''
    if (m.op === '=') return v === m.value
    if (m.op === '!=') return v !== m.value
    const re = new RegExp(`^(?:${m.value})$`)
    return m.op === '=~' ? re.test(v) : !re.test(v)
  })
}

function rangeOf(expr: Expr, scrapes: Scrape[], now: number): Matrix {
  if (expr.kind !== 'selector' || expr.rangeSeconds === undefined)
    throw new Error('PromQL: a range is needed')
  const { name, matchers, rangeSeconds } = expr
  const bySeries = new Map<string, Matrix[number]>()
  for (const scrape of scrapes) {
    if (scrape.at < now - rangeSeconds || scrape.at > now) continue
    for (const s of scrape.samples) {
      if (!matches(s, name, matchers)) continue
      const key = keyOf(s.labels)
      const entry = bySeries.get(key) ?? { labels: s.labels, points: [] }
      entry.points.push({ at: scrape.at, value: s.value })
      bySeries.set(key, entry)
    }
  }
  return [...bySeries.values()]
}

function quantile(q: number, buckets: { le: number; count: number }[]): number {
  const sorted = buckets.sort((a, b) => a.le - b.le)
  const total = sorted.at(-1)?.count ?? 0
  if (total === 0) return Number.NaN
  const rank = q * total
  let prevLe = 0
  let prevCount = 0
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return prevLe
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / (b.count - prevCount || 1))
    }
    prevLe = b.le
    prevCount = b.count
  }
  return prevLe
}

function vectorOf(v: Value): Series[] {
  if (v.type !== 'vector') throw new Error('PromQL: a vector is needed')
  return v.series
}

function call(expr: Extract<Expr, { kind: 'call' }>, scrapes: Scrape[], now: number): Value {
  if (expr.fn === 'time') return { type: 'scalar', value: now }
  if (expr.fn === 'histogram_quantile') {
    const q = evaluate(expr.args[0] as Expr, scrapes, now)
    if (q.type !== 'scalar') throw new Error('PromQL: histogram_quantile needs a scalar')
    const groups = new Map<
      string,
      { labels: Record<string, string>; buckets: { le: number; count: number }[] }
    >()
    for (const s of vectorOf(evaluate(expr.args[1] as Expr, scrapes, now))) {
      const { le, ...rest } = s.labels
      const entry = groups.get(keyOf(rest)) ?? { labels: rest, buckets: [] }
      entry.buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: s.value })
      groups.set(keyOf(rest), entry)
    }
    return {
      type: 'vector',
      series: [...groups.values()].map((g) => ({ labels: g.labels, value: quantile(q.value, g.buckets) })),
    }
  }
  const matrix = rangeOf(expr.args[0] as Expr, scrapes, now)
  const range = (expr.args[0] as { rangeSeconds: number }).rangeSeconds
  const series: Series[] = []
  for (const { labels, points } of matrix) {
    const values = points.map((p) => p.value)
    if (expr.fn === 'min_over_time') series.push({ labels, value: Math.min(...values) })
    else if (points.length >= 2) {
      const increase = (values.at(-1) as number) - (values[0] as number)
      series.push({ labels, value: expr.fn === 'rate' ? increase / range : increase })
    }
  }
  return { type: 'vector', series }
}

const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
}
const COMPARISON: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
}

function binary(op: string, lhs: Value, rhs: Value): Value {
  const arithmetic = ARITHMETIC[op]
  const compare = COMPARISON[op]
  const apply = (a: number, b: number) => (arithmetic ? arithmetic(a, b) : a)
  const keep = (a: number, b: number) => (compare ? compare(a, b) : true)
  if (lhs.type === 'scalar' && rhs.type === 'scalar') {
    if (!arithmetic) throw new Error('PromQL: comparing two scalars needs bool')
    return { type: 'scalar', value: arithmetic(lhs.value, rhs.value) }
  }
  if (rhs.type === 'scalar') {
    const series = vectorOf(lhs).filter((s) => keep(s.value, rhs.value))
    return {
      type: 'vector',
      series: series.map((s) => ({ labels: s.labels, value: apply(s.value, rhs.value) })),
    }
  }
  if (lhs.type === 'scalar') {
    const series = vectorOf(rhs).filter((s) => keep(lhs.value, s.value))
    return {
      type: 'vector',
      series: series.map((s) => ({ labels: s.labels, value: apply(lhs.value, s.value) })),
    }
  }
  // vector op vector: one-to-one on identical label sets.
  const right = new Map(vectorOf(rhs).map((s) => [keyOf(s.labels), s]))
  const series: Series[] = []
  for (const s of vectorOf(lhs)) {
    const other = right.get(keyOf(s.labels))
    if (other && keep(s.value, other.value))
      series.push({ labels: s.labels, value: apply(s.value, other.value) })
  }
  return { type: 'vector', series }
}

/** Instant evaluation at `now` (Unix seconds); the newest scrape at or before `now` is the instant vector. */
export function evaluate(expr: Expr, scrapes: Scrape[], now: number): Value {
  switch (expr.kind) {
    case 'number':
      return { type: 'scalar', value: expr.value }
    case 'selector': {
      if (expr.rangeSeconds !== undefined) throw new Error('PromQL: a range vector needs a function')
      const latest = scrapes.filter((s) => s.at <= now).at(-1)
      const series = (latest?.samples ?? [])
        .filter((s) => matches(s, expr.name, expr.matchers))
        .map((s) => ({ labels: s.labels, value: s.value }))
      return { type: 'vector', series }
    }
    case 'call':
      return call(expr, scrapes, now)
    case 'aggregate': {
      const groups = new Map<string, Series>()
      for (const s of vectorOf(evaluate(expr.expr, scrapes, now))) {
        const labels = Object.fromEntries(
          expr.by.filter((l) => l in s.labels).map((l) => [l, s.labels[l] as string]),
        )
        const key = keyOf(labels)
        const g = groups.get(key)
        if (!g) groups.set(key, { labels, value: s.value })
        else if (expr.op === 'sum') g.value += s.value
        else g.value = expr.op === 'min' ? Math.min(g.value, s.value) : Math.max(g.value, s.value)
      }
      return { type: 'vector', series: [...groups.values()] }
    }
    case 'binary':
      return binary(expr.op, evaluate(expr.lhs, scrapes, now), evaluate(expr.rhs, scrapes, now))
  }
}
