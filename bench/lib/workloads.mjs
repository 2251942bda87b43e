// The benchmark workloads. Each one runs on a fresh store (a fresh Durable Object) and meters only
// its measured phase (seeding and socket setup are excluded unless stated).
import { countDiff, findInspectorUrl, workerdObjectCounts } from './inspector.mjs'
import { loadAvg } from './procfs.mjs'
import { push1, push1Cold, push1Live, push1Paced } from './push.mjs'
import { RpcSocket, eventRange, makeEvent } from './rpc-client.mjs'
import { scaleOne, scaleRateFor, stores } from './scale.mjs'
import { slowHook } from './slowhook.mjs'
import { sleep, startMeter } from './server.mjs'
import { freshStoreId, percentiles } from './stats.mjs'
import { wake } from './wake.mjs'
import { SLOW_HOOK_MS } from '../apps/hooks.mjs'

export { freshStoreId, percentiles }

/**
 * The sync-cf API servers (bench/run.mjs): the packed package without hooks (pkg), with the hooks of
 * bench/apps/hooks.mjs (pkg-hooks), and the reference with the same hooks (ref-hooks). They run only
 * when named in --servers.
 */
export const API_SERVERS = ['pkg', 'pkg-hooks', 'ref-hooks']

/** Runs `fn` between a meter start and stop; returns {meter, value, load1AtStart}. */
const measured = async (server, fn) => {
  const load1AtStart = loadAvg()[0]
  const meter = startMeter(server)
  let value
  let m
  try {
    value = await fn()
  } finally {
    m = meter.stop()
  }
  return { meter: m, value, load1AtStart }
}

const finish = ({ events, wallS, latencyMs, meter, load1AtStart, extra }) => ({
  events,
  wallS,
  eventsPerS: events / wallS,
  latencyMs,
  cpuPer1kEventsS: (meter.serverCpuS / events) * 1000,
  userWorkerCpuPer1kEventsS: (meter.serverUserWorkerCpuS / events) * 1000,
  userWorkerBackgroundCpuPer1kEventsS: (meter.serverUserWorkerBackgroundCpuS / events) * 1000,
  proxyCpuPer1kEventsS: (meter.serverProxyCpuS / events) * 1000,
  meter,
  load1AtStart,
  extra,
})

/** Sequential pushes of `perPush` events each (wait for each Exit), `total` events in all. */
const pushSequential = async (server, { total, perPush, label }) => {
  const storeId = freshStoreId(label)
  const sock = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  try {
    const lat = []
    const { meter, load1AtStart } = await measured(server, async () => {
      for (let from = 1; from <= total; from += perPush) {
        const batch = eventRange(from, Math.min(total, from + perPush - 1))
        const t = performance.now()
        await sock.push(batch)
        lat.push(performance.now() - t)
      }
    })
    return finish({
      events: total,
      wallS: meter.wallS,
      latencyMs: percentiles(lat),
      meter,
      load1AtStart,
      extra: { pushes: lat.length, perPush },
    })
  } finally {
    await sock.close()
  }
}

/** push1 on one server alone, in one go (the logging-cost comparison). */
export const pushSingle = (server, cfg) => pushSequential(server, { total: cfg.push1Events, perPush: 1, label: 'push1' })

export const pushBatch = (server, cfg) =>
  pushSequential(server, { total: cfg.push100Events, perPush: 100, label: 'push100' })

/** Seeds `total` events, then a NEW socket pulls everything from cursor None (non-live). */
export const pullCold = async (server, cfg) => {
  const total = cfg.pullEvents
  const storeId = freshStoreId('pull')
  const seeder = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  const seedT0 = performance.now()
  for (let from = 1; from <= total; from += 100) await seeder.push(eventRange(from, Math.min(total, from + 99)))
  const seedS = (performance.now() - seedT0) / 1000
  await seeder.close()

  const sock = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  try {
    let received = 0
    let expected = 1
    let chunks = 0
    let firstChunkMs
    let backendId
    let outOfOrder = 0
    const { meter, load1AtStart } = await measured(server, async () => {
      const t0 = performance.now()
      const { done } = sock.pull({
        live: false,
        timeoutMs: 300_000,
        onChunk: (values) => {
          if (firstChunkMs === undefined) firstChunkMs = performance.now() - t0
          for (const res of values) {
            chunks++
            backendId ??= res.backendId
            for (const item of res.batch) {
              if (item.eventEncoded.seqNum !== expected) outOfOrder++
              expected = item.eventEncoded.seqNum + 1
              received++
            }
          }
        },
      })
      await done
    })
    if (received !== total || outOfOrder) {
      throw new Error(`pull returned ${received} events (expected ${total}), ${outOfOrder} out of order`)
    }
    return finish({
      events: total,
      wallS: meter.wallS,
      latencyMs: { n: 1, firstChunk: firstChunkMs, total: meter.wallS * 1000 },
      meter,
      load1AtStart,
      extra: { pullResponses: chunks, seedS },
    })
  } finally {
    await sock.close()
  }
}

/**
 * `pullers` sockets each hold a live pull; a separate socket pushes `pushes` single events, one at a
 * time, each time waiting until every puller has received it (and the push's Exit).
 */
export const fanout = async (server, cfg) => {
  const P = cfg.fanoutPullers
  const N = cfg.fanoutPushes
  const storeId = freshStoreId('fanout')
  const pullers = []
  // arrival[n] = array of arrival times (ms) of event n across pullers
  let waiting // {seq, remaining, resolve, arrivals[]}
  const perPullerNext = new Array(P).fill(1)
  let dupOrGap = 0
  try {
    for (let i = 0; i < P; i += 10) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(10, P - i) }, () => RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })),
      )
      pullers.push(...opened)
    }
    // start the live pulls and wait for each one's initial (empty) history chunk
    await Promise.all(
      pullers.map(
        (sock, idx) =>
          new Promise((resolveInitial, rejectInitial) => {
            let initial = true
            const t = setTimeout(() => rejectInitial(new Error(`puller ${idx}: no initial chunk`)), 30_000)
            sock.pull({
              live: true,
              onChunk: (values) => {
                if (initial) {
                  initial = false
                  clearTimeout(t)
                  resolveInitial()
                }
                const now = performance.now()
                for (const res of values)
                  for (const item of res.batch) {
                    const seq = item.eventEncoded.seqNum
                    if (seq !== perPullerNext[idx]) dupOrGap++
                    perPullerNext[idx] = seq + 1
                    if (waiting && seq === waiting.seq) {
                      waiting.arrivals.push(now - waiting.t0)
                      if (--waiting.remaining === 0) waiting.resolve()
                    }
                  }
              },
            })
          }),
      ),
    )
    const pusher = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
    pullers.push(pusher)
    const allReceived = []
    const perDelivery = []
    const pushExit = []
    const { meter, load1AtStart } = await measured(server, async () => {
      for (let seq = 1; seq <= N; seq++) {
        const t0 = performance.now()
        const got = new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`event ${seq}: ${waiting.remaining} of ${P} pullers did not receive it within 30 s`)),
            30_000,
          )
          waiting = { seq, remaining: P, arrivals: [], t0, resolve: () => (clearTimeout(timer), resolve()) }
        })
        const exit = pusher.push([makeEvent(seq)]).then(() => pushExit.push(performance.now() - t0))
        await Promise.all([got, exit])
        allReceived.push(Math.max(...waiting.arrivals))
        perDelivery.push(...waiting.arrivals)
      }
    })
    return finish({
      events: N * P,
      wallS: meter.wallS,
      latencyMs: percentiles(allReceived),
      meter,
      load1AtStart,
      extra: {
        pullers: P,
        pushes: N,
        deliveriesPerS: (N * P) / meter.wallS,
        perDeliveryLatencyMs: percentiles(perDelivery),
        pushExitLatencyMs: percentiles(pushExit),
        duplicatesOrGaps: dupOrGap,
      },
    })
  } finally {
    await Promise.all(pullers.map((s) => s.close()))
  }
}

/**
 * Warm pushes, then `idleMs` without any traffic (the socket stays open), then one push: its
 * latency and the server CPU it cost, compared with warm pushes; eviction detected through the
 * inspector (new DurableObjectState instance) when available.
 */
export const idlePush = async (server, cfg) => {
  const storeId = freshStoreId('idle')
  const sock = await RpcSocket.open(server.wsUrl, storeId)
  const inspectorUrl = await findInspectorUrl(server).catch(() => undefined)
  try {
    let seq = 0
    const WARM = 20
    const warmLat = []
    const settle = 150 // ms after the last Exit before reading CPU, same for every phase
    let freshLat
    // the very first push creates the object (constructor, tables): measured on its own
    const fresh = await measured(server, async () => {
      const t = performance.now()
      await sock.push([makeEvent(++seq)])
      freshLat = performance.now() - t
      await sleep(settle)
    })
    const warm = await measured(server, async () => {
      for (let i = 0; i < WARM; i++) {
        const t = performance.now()
        await sock.push([makeEvent(++seq)])
        warmLat.push(performance.now() - t)
      }
      await sleep(settle)
    })
    // measured cycle: nothing at all happens during the idle period
    const idleStart = performance.now()
    const idleMeter = startMeter(server)
    await sleep(cfg.idleMs)
    const idle = idleMeter.stop()
    const idleS = (performance.now() - idleStart) / 1000
    let idleLat
    const cold = await measured(server, async () => {
      const t = performance.now()
      await sock.push([makeEvent(++seq)])
      idleLat = performance.now() - t
      await sleep(settle)
    })
    const afterLat = []
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      await sock.push([makeEvent(++seq)])
      afterLat.push(performance.now() - t)
    }

    // probe cycle (a second idle period, same socket): heap snapshots disturb the isolate (GC,
    // deoptimisation), so they are kept out of the measured cycle above
    let evicted
    let releasedWhileIdle
    let restoredByPush
    let probeError
    if (inspectorUrl && cfg.probe !== false) {
      try {
        const a = await workerdObjectCounts(inspectorUrl)
        await sleep(cfg.idleMs)
        const b = await workerdObjectCounts(inspectorUrl)
        await sock.push([makeEvent(++seq)])
        const c = await workerdObjectCounts(inspectorUrl)
        releasedWhileIdle = countDiff(a, b)
        restoredByPush = countDiff(b, c)
        evicted = Object.values(releasedWhileIdle).some((d) => d < 0)
      } catch (e) {
        probeError = String(e?.message ?? e)
      }
    }
    const warmP = percentiles(warmLat)
    const warmCpuPerPushMs = (warm.meter.serverCpuS / WARM) * 1000
    return {
      events: 1,
      wallS: cold.meter.wallS,
      eventsPerS: undefined,
      latencyMs: { n: 1, idlePush: idleLat, warmP50: warmP.p50, afterIdleP50: percentiles(afterLat).p50, freshObjectPush: freshLat },
      cpuPer1kEventsS: cold.meter.serverCpuS * 1000,
      userWorkerCpuPer1kEventsS: cold.meter.serverUserWorkerCpuS * 1000,
      meter: cold.meter,
      load1AtStart: warm.load1AtStart,
      extra: {
        idleS,
        idlePushCpuMs: cold.meter.serverCpuS * 1000,
        idlePushUserWorkerCpuMs: cold.meter.serverUserWorkerCpuS * 1000,
        warmCpuPerPushMs,
        freshObjectPushCpuMs: fresh.meter.serverCpuS * 1000,
        warmUserWorkerCpuPerPushMs: (warm.meter.serverUserWorkerCpuS / WARM) * 1000,
        cpuDuringIdleS: idle.serverCpuS,
        cpuSource: cold.meter.cpuSource,
        evicted, // true/false from the inspector probe, undefined if it could not run
        evictionProbe:
          cfg.probe === false
            ? 'skipped (--no-probe)'
            : inspectorUrl
              ? probeError
                ? `failed: ${probeError}`
                : 'heap-snapshot counts'
              : 'no inspector found',
        releasedWhileIdle, // workerd native object classes whose count changed during the idle period
        restoredByPush, // ... and from just before to just after the idle push
        warmLatencyMs: warmP,
      },
    }
  } finally {
    await sock.close()
  }
}

/**
 * Short warm-up so the servers are measured with compiled code (JIT / Wasm tier-up). The floor
 * object only knows one thing (insert and reply): it gets single pushes only.
 */
export const warmUp = async (server, { pushesOnly = false } = {}) => {
  const storeId = freshStoreId('warmup')
  const sock = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  try {
    let seq = 0
    if (pushesOnly) {
      for (let i = 0; i < 1000; i++) await sock.push([makeEvent(++seq)])
      return
    }
    for (let i = 0; i < 150; i++) await sock.push([makeEvent(++seq)])
    for (let i = 0; i < 10; i++) await sock.push(eventRange(seq + 1, (seq += 100)))
    const live = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
    live.pull({ live: true, onChunk: () => {} })
    for (let i = 0; i < 50; i++) await sock.push([makeEvent(++seq)])
    await sock.pull({ live: false, timeoutMs: 60_000 }).done
    await live.close()
  } finally {
    await sock.close()
  }
}

/**
 * The workloads, in the order they run. `servers`: which server kinds run it (of those started).
 * `runAll(servers, cfg)` runs on all of them together (interleaved or side by side) and returns
 * {kind: result}; `run(server, cfg)` runs on one server, the servers taking turns. `once`: one
 * round whatever --rounds says. `cold`: needs servers on which nothing ran yet (runs first).
 * `fresh`: each server is restarted (and warmed up) right before it runs this workload, so that
 * its memory figures start from a clean process.
 * `group`: selecting the group name (e.g. `scale`) selects all its members.
 */
export const workloadList = (cfg) => [
  {
    key: 'push1cold',
    title: (c) => `cold: ${c.coldReps} × ${c.push1Events} single-event pushes on servers that just started (rep 1 shown)`,
    servers: ['ours', 'floor', 'ref'],
    runAll: push1Cold,
    once: true,
    cold: true,
  },
  {
    key: 'push1',
    title: (c) => `warm: push ${c.push1Events} events, 1 per push (sequential), ${c.push1Blocks} interleaved blocks`,
    servers: ['ours', 'd1', 'floor', 'ref', ...API_SERVERS],
    runAll: push1,
  },
  {
    key: 'push1paced',
    title: (c) => `warm, paced: push ${c.pacedEvents} events, 1 per push, ${c.pacedGapMs} ms of silence after each Exit, ${c.push1Blocks} interleaved blocks`,
    servers: ['ours', 'floor', 'ref'],
    runAll: push1Paced,
  },
  {
    key: 'push1live',
    title: (c) => `warm: push ${c.push1Events} events, 1 per push, the pushing socket also holds a live pull (published-client shape)`,
    servers: ['ours', 'd1', 'ref', ...API_SERVERS],
    runAll: push1Live,
  },
  { key: 'push100', title: (c) => `push ${c.push100Events} events, 100 per push (sequential)`, servers: ['ours', 'd1', 'ref', ...API_SERVERS], run: pushBatch },
  { key: 'pull', title: (c) => `cold non-live pull of ${c.pullEvents} events (new socket)`, servers: ['ours', 'd1', 'ref', ...API_SERVERS], run: pullCold },
  {
    key: 'fanout',
    title: (c) => `${c.fanoutPullers} live pullers, ${c.fanoutPushes} single-event pushes from another socket (closed loop)`,
    servers: ['ours', 'd1', 'ref', ...API_SERVERS],
    run: fanout,
  },
  {
    key: 'slowhook',
    title: (c) =>
      `slow hook: another client's single pushes alone vs while one client's pushes wait ${SLOW_HOOK_MS} ms in onPush (same store), ${c.slowBlocks} blocks × ${c.slowPushes} pushes per phase`,
    servers: ['pkg-hooks', 'ref-hooks'],
    runAll: slowHook,
  },
  { key: 'idle', title: (c) => `first push after ${c.idleMs / 1000} s idle`, servers: ['ours', 'ref'], run: idlePush, once: true },
  {
    key: 'wake',
    title: (c) => `wake: first message after ${c.wakeIdleMs / 1000} s without traffic (medians of ${c.wakeReps})`,
    servers: ['ours', 'd1', 'floor', 'ref'],
    runAll: wake,
    once: true,
  },
  ...cfg.scaleSockets.map((n) => ({
    key: `scale${n}`,
    group: 'scale',
    title: (c) => `one store, ${n.toLocaleString('en-US')} live pulls, 1 pusher: ${c.scalePushes} pushes at ${+scaleRateFor(c, n).toFixed(2)}/s (open loop)`,
    servers: n <= cfg.scaleRefMax ? ['ours', 'floor', 'ref'] : ['ours', 'floor'],
    run: (server, c) => scaleOne(server, c, n, { connectOnly: server.kind === 'floor' }),
    once: true,
    fresh: true,
  })),
  {
    key: `stores${cfg.stores}`,
    group: 'stores',
    title: (c) => `${c.stores} stores in parallel, each 1 pusher at ${c.storesRate}/s + ${c.storePullers} live pulls, ${c.storesSeconds} s; then ${c.storesBurstSeconds} s closed loop`,
    servers: cfg.storesRef ? ['ours', 'd1', 'ref'] : ['ours', 'd1'],
    run: stores,
    once: true,
    fresh: true,
  },
]
