// Builds the comparison table (ours, the floor object, the reference, and the sync-cf API servers
// pkg, pkg-hooks, ref-hooks) from the per-run results.
import { median } from './stats.mjs'

const pct = (r) => (r.meter ? (100 * r.meter.clientCpuS) / r.meter.wallS : undefined)

// The CPU Cloudflare would bill is the user-worker workerd's (Worker + Durable Object); wrangler's
// proxy workerd exists only in local dev.
const CPU_ROWS = [
  ['CPU s per 1,000 events, user worker (billed)', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
  ['  of which V8 background threads', (r) => r.userWorkerBackgroundCpuPer1kEventsS, undefined],
  ['  + wrangler proxy workerd (local only)', (r) => r.proxyCpuPer1kEventsS, undefined],
  ['  = all workerd (as the old bench reported)', (r) => r.cpuPer1kEventsS, 'lower'],
]
const CONTEXT_ROWS = [
  ['peak RSS of workerd processes (MB)', (r) => r.meter?.peakRssMb, 'lower'],
  ['client CPU (% of one core)', pct, undefined],
  ['other processes on the machine (cores)', (r) => r.meter?.otherProcessesCores, undefined],
]
const COMMON_TAIL = [...CPU_ROWS, ...CONTEXT_ROWS, ['machine load (1-min) at start', (r) => r.load1AtStart, undefined]]

const SCALE_ROWS = [
  ['pushes sent (held back: server behind)', (r) => (r.extra?.pushes !== undefined ? `${r.extra.pushes} (${r.extra.held})` : undefined), undefined, 'text'],
  ['push → all received p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
  ['push → all received p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
  ['push → one puller received p99 (ms)', (r) => r.extra?.perDeliveryLatencyMs?.p99, 'lower'],
  ['push → Exit p50 (ms)', (r) => r.extra?.pushExitLatencyMs?.p50, 'lower'],
  ['undelivered at the end', (r) => r.extra?.undelivered, 'lower'],
  ['user-worker CPU per push (ms)', (r) => r.extra?.userWorkerCpuPerPushMs, 'lower'],
  ['user-worker CPU per delivery, incl. its Ack (µs)', (r) => r.extra?.userWorkerCpuPerDeliveryUs, 'lower'],
  ['  marginal: per delivery added since the previous size (µs)', (r) => r.extra?.marginalUserWorkerCpuPerDeliveryUs, 'lower'],
  ['all workerd CPU per delivery (µs)', (r) => r.extra?.allWorkerdCpuPerDeliveryUs, 'lower'],
  ['per push: CPU of proxy workerd / of this client (ms)', (r) => (r.extra?.clientCpuPerPushMs !== undefined ? `${r.extra.proxyCpuPerPushMs.toFixed(1)} / ${r.extra.clientCpuPerPushMs.toFixed(1)}` : undefined), undefined, 'text'],
  ['connect: time to open all + first chunks (ms)', (r) => r.extra?.connectMs, 'lower'],
  ['connect: user-worker CPU per socket (ms)', (r) => r.extra?.connectUserWorkerCpuPerSocketMs, 'lower'],
  ['user-worker RSS: before → connected → peak (MB)', (r) => (r.extra?.rssBeforeMb !== undefined ? `${r.extra.rssBeforeMb.toFixed(0)} → ${r.extra.rssConnectedMb.toFixed(0)} → ${r.extra.peakUserWorkerRssMb.toFixed(0)}` : undefined), undefined, 'text'],
  ['user-worker RSS per socket (KB)', (r) => r.extra?.rssPerSocketKb, 'lower'],
  ['client CPU (% of one core)', (r) => r.extra?.clientCpuPct, undefined],
  ['other processes on the machine (cores)', (r) => (r.extra?.connectOnly ? undefined : r.meter?.otherProcessesCores), undefined],
]

const STORES_ROWS = [
  ['pushes sent (held back: server behind)', (r) => (r.extra?.pushes !== undefined ? `${r.extra.pushes} (${r.extra.held})` : undefined), undefined, 'text'],
  ['steady: events/s pushed (all stores)', (r) => r.eventsPerS, 'higher'],
  ['steady: deliveries/s', (r) => r.extra?.deliveriesPerS, 'higher'],
  ['steady: push → both pullers received p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
  ['steady: push → both pullers received p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
  ['steady: push → Exit p99 (ms)', (r) => r.extra?.pushExitLatencyMs?.p99, 'lower'],
  ['steady: undelivered at the end', (r) => r.extra?.undelivered, 'lower'],
  ['steady: CPU s per 1,000 events, user worker (billed)', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
  ['steady: CPU s per 1,000 events, all workerd', (r) => r.cpuPer1kEventsS, 'lower'],
  ['closed loop: events/s (one push in flight per store)', (r) => r.extra?.burst?.eventsPerS, 'higher'],
  ['closed loop: push → Exit p99 (ms)', (r) => r.extra?.burst?.pushExitLatencyMs?.p99, 'lower'],
  ['closed loop: CPU s per 1,000 events, user worker', (r) => r.extra?.burst?.userWorkerCpuPer1kEventsS, 'lower'],
  ['closed loop: client CPU (% of one core)', (r) => r.extra?.burst?.clientCpuPct, undefined],
  ['connect: time to open all + first chunks (ms)', (r) => r.extra?.connectMs, 'lower'],
  ['user-worker RSS: before → connected → peak (MB)', (r) => (r.extra?.rssBeforeMb !== undefined ? `${r.extra.rssBeforeMb.toFixed(0)} → ${r.extra.rssConnectedMb.toFixed(0)} → ${r.extra.peakUserWorkerRssMb.toFixed(0)}` : undefined), undefined, 'text'],
  ['client CPU (% of one core)', (r) => r.extra?.clientCpuPct, undefined],
  ['other processes on the machine (cores)', (r) => r.meter?.otherProcessesCores, undefined],
]

const range = (r) => (r.userWorkerCpuPer1kRange ? `${r.userWorkerCpuPer1kRange[0].toFixed(2)}–${r.userWorkerCpuPer1kRange[1].toFixed(2)}` : undefined)

// Rows per workload: [label, accessor(result), better: 'higher' | 'lower' | undefined, kind?]
export const ROWS = {
  push1cold: [
    ['CPU s per 1,000 events, user worker (billed): rep 1 = cold', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
    ['  rep 2', (r) => r.extra?.reps?.[1]?.userWorkerCpuPer1kEventsS, 'lower'],
    ['  rep 3', (r) => r.extra?.reps?.[2]?.userWorkerCpuPer1kEventsS, 'lower'],
    ['  rep 1: of which V8 background threads', (r) => r.userWorkerBackgroundCpuPer1kEventsS, undefined],
    ['  rep 1: + wrangler proxy workerd (local only)', (r) => r.proxyCpuPer1kEventsS, undefined],
    ['  rep 1: = all workerd', (r) => r.cpuPer1kEventsS, 'lower'],
    ['  rep 1..3: all workerd', (r) => r.extra?.reps?.map((x) => x.cpuPer1kEventsS.toFixed(2)).join(' / '), undefined, 'text'],
    ['first 250 pushes: user worker CPU s per 1,000', (r) => r.extra?.firstBlockUserWorkerCpuPer1kS, 'lower'],
    ['very first push: latency (ms)', (r) => r.extra?.firstPushMs, 'lower'],
    ['very first push: user-worker CPU (ms)', (r) => r.extra?.firstPushUserWorkerCpuMs, 'lower'],
    ['rep 1: wall time (s)', (r) => r.wallS, 'lower'],
    ...CONTEXT_ROWS,
  ],
  push1: [
    ['events/s', (r) => r.eventsPerS, 'higher'],
    ['push latency p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ['push latency p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
    ...CPU_ROWS,
    ['user worker CPU per 1,000: range over the blocks', range, undefined, 'text'],
    ['user worker CPU per 1,000: whole run (sum of blocks)', (r) => r.total?.userWorkerCpuPer1kEventsS, 'lower'],
    ...CONTEXT_ROWS,
    ['machine load (1-min) at start', (r) => r.load1AtStart, undefined],
  ],
  push1paced: [
    ['push latency p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ...CPU_ROWS,
    ['user worker CPU per 1,000: range over the blocks', range, undefined, 'text'],
    ...CONTEXT_ROWS,
  ],
  push1live: [
    ['events/s', (r) => r.eventsPerS, 'higher'],
    ['push latency p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ['push latency p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
    ...CPU_ROWS,
    ['user worker CPU per 1,000: range over the blocks', range, undefined, 'text'],
    ...CONTEXT_ROWS,
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
    ['CPU s per 1,000 deliveries, user worker (billed)', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
    ['  = all workerd', (r) => r.cpuPer1kEventsS, 'lower'],
    ...CONTEXT_ROWS,
  ],
  slowhook: [
    ['other client alone: push latency p50 (ms)', (r) => r.latencyMs?.p50, 'lower'],
    ['other client alone: push latency p99 (ms)', (r) => r.latencyMs?.p99, 'lower'],
    ['other client, a slow hook pending: push latency p50 (ms)', (r) => r.extra?.withSlowLatencyMs?.p50, 'lower'],
    ['other client, a slow hook pending: push latency p99 (ms)', (r) => r.extra?.withSlowLatencyMs?.p99, 'lower'],
    ['other client, a slow hook pending: max (ms)', (r) => r.extra?.withSlowLatencyMs?.max, 'lower'],
    ['slow client: push → answer p50 (ms; hook waits 200)', (r) => r.extra?.slowPushLatencyMs?.p50, 'lower'],
    ['slow client: pushes (all refused after the hook: stale parent)', (r) => r.extra?.slowPushes, undefined],
    ['CPU s per 1,000 other-client events, user worker: alone', (r) => r.userWorkerCpuPer1kEventsS, 'lower'],
    ['CPU s per 1,000 other-client events, user worker: slow hook pending', (r) => r.extra?.withSlowUserWorkerCpuPer1kEventsS, 'lower'],
    ['other client: failed pushes', (r) => r.extra?.fastFailures, 'lower'],
    ['admission held: the log is exactly the other client\'s events', (r) => r.extra?.admissionHeld, undefined, 'bool'],
    ['other processes on the machine (cores)', (r) => r.meter?.otherProcessesCores, undefined],
  ],
  idle: [
    ['idle period (s)', (r) => r.extra?.idleS, undefined],
    ['first push after idle: latency (ms)', (r) => r.latencyMs?.idlePush, 'lower'],
    ['warm push latency p50 before idle (ms)', (r) => r.latencyMs?.warmP50, 'lower'],
    ['push latency p50 right after (ms)', (r) => r.latencyMs?.afterIdleP50, 'lower'],
    ['all-workerd CPU of the first push after idle (ms)', (r) => r.extra?.idlePushCpuMs, 'lower'],
    ['all-workerd CPU per warm push (ms)', (r) => r.extra?.warmCpuPerPushMs, 'lower'],
    ['all-workerd CPU during the idle period (s)', (r) => r.extra?.cpuDuringIdleS, undefined],
    ['very first push on a fresh object: latency (ms)', (r) => r.latencyMs?.freshObjectPush, 'lower'],
    ['very first push on a fresh object: all-workerd CPU (ms)', (r) => r.extra?.freshObjectPushCpuMs, 'lower'],
    ['object hibernated/evicted while idle (heap snapshots)', (r) => r.extra?.evicted, undefined, 'bool'],
    ['machine load (1-min) at start', (r) => r.load1AtStart, undefined],
  ],
  wake: [
    ['idle period (s)', (r) => r.extra?.idleS, undefined],
    ['(a) evicted (new instance in the log), no socket open', (r) => r.extra?.evictedA, undefined, 'bool'],
    ['(a) new socket: connect → first pull response (ms)', (r) => r.latencyMs?.connectToFirstPull, 'lower'],
    ['(a)   of which the WebSocket upgrade (ms)', (r) => r.latencyMs?.connectOpen, 'lower'],
    ['(a)   user-worker CPU, main thread (ms)', (r) => r.extra?.connectMainThreadCpuMs, 'lower'],
    ['(a)   user-worker CPU, all threads (ms)', (r) => r.extra?.connectCpuMs, 'lower'],
    ['(a) same, object in use: connect → first pull (ms)', (r) => r.latencyMs?.warmConnectToFirstPull, 'lower'],
    ['(a)   user-worker CPU, object in use (ms)', (r) => r.extra?.warmConnectCpuMs, 'lower'],
    ['(b) evicted (new instance in the log), socket open', (r) => r.extra?.evictedB, undefined, 'bool'],
    ['(b) socket opened before: push → Exit (ms)', (r) => r.latencyMs?.pushToAck, 'lower'],
    ['(b)   user-worker CPU, main thread (ms)', (r) => r.extra?.pushMainThreadCpuMs, 'lower'],
    ['(b)   user-worker CPU, all threads (ms)', (r) => r.extra?.pushCpuMs, 'lower'],
    ['(b) same, object in use: push → Exit (ms)', (r) => r.latencyMs?.warmPushToAck, 'lower'],
    ['(b)   user-worker CPU, object in use (ms)', (r) => r.extra?.warmPushCpuMs, 'lower'],
    ['Wasm module: raw (KB)', (r) => r.wasm?.rawKb, 'lower'],
    ['Wasm module: gzip -9 (KB)', (r) => r.wasm?.gzipKb, 'lower'],
    ['Wasm compile, V8 default lazy (ms, Node 22)', (r) => r.wasm?.lazyCompileMs, 'lower'],
    ['Wasm compile, all functions Liftoff (ms, Node 22)', (r) => r.wasm?.eagerCompileMs, 'lower'],
    ['Wasm compile, all functions TurboFan (ms, Node 22)', (r) => r.wasm?.turbofanCompileMs, 'lower'],
  ],
}
export const rowsFor = (key) => ROWS[key] ?? (key.startsWith('scale') ? SCALE_ROWS : key.startsWith('stores') ? STORES_ROWS : [])

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

const verdictOf = (ours, other, better, name, oursName = 'ours') => {
  if (!better || !(ours > 0) || !(other > 0)) return ''
  const oursBetter = better === 'higher' ? ours > other : ours < other
  const factor = better === 'higher' ? (oursBetter ? ours / other : other / ours) : oursBetter ? other / ours : ours / other
  return factor < 1.05 ? 'about equal' : `${oursBetter ? oursName : name} ${factor.toFixed(1)}x better`
}

/** The server columns, in this order, and their headers. */
export const SERVER_COLUMNS = [
  ['ours', 'ours'],
  ['d1', 'ours D1'],
  ['floor', 'floor'],
  ['ref', 'reference'],
  ['pkg', 'pkg'],
  ['pkg-hooks', 'pkg-hooks'],
  ['ref-hooks', 'ref-hooks'],
]

/** Ratio columns: [key, header, numerator, denominator, only for rows with a `better`]. */
const RATIO_COLUMNS = [
  ['toFloor', 'ours/floor', 'ours', 'floor', true],
  ['d1ToOurs', 'D1/ours', 'd1', 'ours', true],
  ['toRef', 'ours/ref', 'ours', 'ref', false],
  ['pkgToOurs', 'pkg/ours', 'pkg', 'ours', false],
  ['hooksToRef', 'pkg-hooks/ref-hooks', 'pkg-hooks', 'ref-hooks', false],
]

/**
 * Summary rows: [{section} | {metric, values: {kind: value}, ratios: {key: ratio}, verdict}]
 * (values = median over rounds). The verdict compares ours with the reference, or, without them,
 * pkg-hooks with ref-hooks.
 */
export const summarize = (workloads, cfg, results) => {
  const rows = []
  for (const w of workloads) {
    rows.push({ section: `${w.index}. ${w.title(cfg)}` })
    const runs = (kind) => results.filter((r) => r.workload === w.key && r.server === kind)
    const okRuns = (kind) => runs(kind).filter((r) => r.ok)
    const failed = (kind) => runs(kind).length > 0 && okRuns(kind).length === 0
    for (const [label, get, better, kind] of rowsFor(w.key)) {
      const val = (k) => {
        if (failed(k)) return 'FAIL'
        const vs = okRuns(k).map(get)
        if (kind === 'bool') {
          const known = vs.filter((v) => typeof v === 'boolean' || v === 'mixed')
          if (!known.length) return undefined
          return known.every((v) => v === known[0]) ? known[0] : 'mixed'
        }
        if (kind === 'text') return vs.filter((v) => v !== undefined).join(' | ') || undefined
        return median(vs)
      }
      const values = Object.fromEntries(SERVER_COLUMNS.map(([k]) => [k, val(k)]))
      const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 && kind !== 'bool' && kind !== 'text' ? a / b : undefined)
      const ratios = Object.fromEntries(RATIO_COLUMNS.map(([key, , a, b, onlyBetter]) => [key, onlyBetter && !better ? undefined : ratio(values[a], values[b])]))
      const num = (k) => typeof values[k] === 'number'
      const verdict =
        num('ours') && num('ref')
          ? verdictOf(values.ours, values.ref, better, 'ref')
          : num('pkg-hooks') && num('ref-hooks')
            ? verdictOf(values['pkg-hooks'], values['ref-hooks'], better, 'ref-hooks', 'pkg-hooks')
            : ''
      rows.push({ metric: label, values, ratios, ...values, ...ratios, verdict, kind, better })
    }
  }
  return rows
}

/**
 * The table: one column per server of `kinds` (default: ours, ours D1, floor, reference), the
 * ratio columns whose two servers are both there.
 */
export const renderTable = (rows, kinds = ['ours', 'd1', 'floor', 'ref']) => {
  const servers = SERVER_COLUMNS.filter(([k]) => kinds.includes(k))
  const ratios = RATIO_COLUMNS.filter(([, , a, b]) => kinds.includes(a) && kinds.includes(b))
  const head = ['workload / metric', ...servers.map(([, h]) => h), ...ratios.map(([, h]) => h), '']
  const last = head.length - 1
  const body = rows.map((r) =>
    r.section !== undefined
      ? [r.section]
      : [
          '   ' + r.metric,
          ...servers.map(([k]) => fmt(r.values[k], r.kind)),
          ...ratios.map(([key]) => (r.ratios[key] === undefined ? (key === 'toRef' ? '-' : '') : r.ratios[key].toFixed(2))),
          r.verdict,
        ],
  )
  const widths = head.map((h, i) => Math.max(h.length, ...body.filter((b) => b.length > 1).map((b) => (b[i] ?? '').length)))
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : i === last ? c : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')]
  for (const b of body) out.push(b.length === 1 ? b[0] : line(b))
  return out.join('\n')
}
