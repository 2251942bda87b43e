// Builds the comparison table (ours vs reference) from the per-run results.

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (!v.length) return undefined
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

const pct = (r) => (r.meter ? (100 * r.meter.clientCpuS) / r.meter.wallS : undefined)

// Rows per workload: [label, accessor(result), better: 'higher' | 'lower' | undefined, kind?]
const COMMON_TAIL = [
  ['server CPU s per 1,000 events (all workerd)', (r) => r.cpuPer1kEventsS, 'lower'],
  ['  of which the user-worker workerd', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
  ['peak RSS of workerd processes (MB)', (r) => r.meter?.peakRssMb, 'lower'],
  ['client CPU (% of one core)', pct, undefined],
  ['machine load (1-min) at start', (r) => r.load1AtStart, undefined],
]

export const ROWS = {
  push1: [
    ['events/s', (r) => r.eventsPerS, 'higher'],
    ['push latency p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ['push latency p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
    ...COMMON_TAIL,
  ],
  push100: [
    ['events/s', (r) => r.eventsPerS, 'higher'],
    ['push latency p50 (ms, 100 events)', (r) => r.latencyMs?.p50, 'lower'],
    ['push latency p99 (ms, 100 events)', (r) => r.latencyMs?.p99, 'lower'],
    ...COMMON_TAIL,
  ],
  pull: [
    ['events/s', (r) => r.eventsPerS, 'higher'],
    ['request → first chunk (ms)', (r) => r.latencyMs?.firstChunk, 'lower'],
    ['request → Exit (ms)', (r) => r.latencyMs?.total, 'lower'],
    ...COMMON_TAIL,
  ],
  fanout: [
    ['delivered events/s (pushes × pullers)', (r) => r.eventsPerS, 'higher'],
    ['push → all pullers received p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ['push → all pullers received p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
    ['push → one puller received p50 (ms)', (r) => r.extra?.perDeliveryLatencyMs?.p50, 'lower'],
    ['push → Exit p50 (ms)', (r) => r.extra?.pushExitLatencyMs?.p50, 'lower'],
    ['server CPU s per 1,000 delivered events', (r) => r.cpuPer1kEventsS, 'lower'],
    ['  of which the user-worker workerd', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
    ...COMMON_TAIL.slice(2),
  ],
  idle: [
    ['idle period (s)', (r) => r.extra?.idleS, undefined],
    ['first push after idle: latency (ms)', (r) => r.latencyMs?.idlePush, 'lower'],
    ['warm push latency p50 before idle (ms)', (r) => r.latencyMs?.warmP50, 'lower'],
    ['push latency p50 right after (ms)', (r) => r.latencyMs?.afterIdleP50, 'lower'],
    ['server CPU of the first push after idle (ms)', (r) => r.extra?.idlePushCpuMs, 'lower'],
    ['server CPU per warm push (ms)', (r) => r.extra?.warmCpuPerPushMs, 'lower'],
    ['server CPU during the idle period (s)', (r) => r.extra?.cpuDuringIdleS, undefined],
    ['very first push on a fresh object: latency (ms)', (r) => r.latencyMs?.freshObjectPush, 'lower'],
    ['very first push on a fresh object: server CPU (ms)', (r) => r.extra?.freshObjectPushCpuMs, 'lower'],
    ['object hibernated/evicted while idle', (r) => r.extra?.evicted, undefined, 'bool'],
    ['machine load (1-min) at start', (r) => r.load1AtStart, undefined],
  ],
}

const fmt = (v, kind) => {
  if (v === undefined || v === null) return '-'
  if (kind === 'bool') return v === 'mixed' ? 'mixed' : v ? 'yes' : 'no'
  if (typeof v !== 'number') return String(v)
  const a = Math.abs(v)
  if (a >= 1000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}

/** Summary rows: [{workload, metric, ours, ref, ratio, verdict}] (values = median over rounds). */
export const summarize = (workloads, cfg, results) => {
  const rows = []
  for (const w of workloads) {
    const title = w.title(cfg)
    const runs = (kind) => results.filter((r) => r.workload === w.key && r.server === kind)
    const okRuns = (kind) => runs(kind).filter((r) => r.ok)
    const failed = (kind) => runs(kind).length > 0 && okRuns(kind).length === 0
    rows.push({ section: `${w.index}. ${title}` })
    for (const [label, get, better, kind] of ROWS[w.key]) {
      const val = (k) => {
        if (failed(k)) return 'FAIL'
        const vs = okRuns(k).map(get)
        if (kind === 'bool') {
          const known = vs.filter((v) => typeof v === 'boolean')
          if (!known.length) return undefined
          return known.every((v) => v === known[0]) ? known[0] : 'mixed'
        }
        return median(vs)
      }
      const ours = val('ours')
      const ref = val('ref')
      let ratio
      let verdict = ''
      if (typeof ours === 'number' && typeof ref === 'number' && ref !== 0 && kind !== 'bool') {
        ratio = ours / ref
        if (better && ours > 0) {
          const oursBetter = better === 'higher' ? ours > ref : ours < ref
          const factor = better === 'higher' ? (oursBetter ? ours / ref : ref / ours) : oursBetter ? ref / ours : ours / ref
          verdict = factor < 1.05 ? 'about equal' : `${oursBetter ? 'ours' : 'ref'} ${factor.toFixed(1)}x better`
        }
      }
      rows.push({ metric: label, ours, ref, ratio, verdict, kind, better })
    }
  }
  return rows
}

export const renderTable = (rows) => {
  const head = ['workload / metric', 'ours', 'reference', 'ours/ref', '']
  const body = rows.map((r) =>
    r.section !== undefined
      ? [r.section]
      : ['   ' + r.metric, fmt(r.ours, r.kind), fmt(r.ref, r.kind), r.ratio === undefined ? '-' : r.ratio.toFixed(2), r.verdict],
  )
  const widths = head.map((h, i) => Math.max(h.length, ...body.filter((b) => b.length > 1).map((b) => (b[i] ?? '').length)))
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : i === 4 ? c : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')]
  for (const b of body) out.push(b.length === 1 ? b[0] : line(b))
  return out.join('\n')
}
