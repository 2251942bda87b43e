// Single-event pushes measured on several servers at once (ours, the floor object, the reference):
// the servers take turns in blocks of a few hundred pushes, the order rotating every block, so
// that the noise of a shared 2-core machine (other processes, CPU frequency, the host) falls on
// all of them alike, and the ratio ours/floor can be taken block by block (paired in time).
import { loadAvg } from './procfs.mjs'
import { RpcSocket, makeEvent } from './rpc-client.mjs'
import { sleep, startMeter } from './server.mjs'
import { freshStoreId, median, percentiles } from './stats.mjs'

/** Figures of one meter reading per event (s per 1,000 events). */
const per1k = (m, events) => ({
  userWorkerCpuPer1kEventsS: (m.serverUserWorkerCpuS / events) * 1000,
  userWorkerMainThreadCpuPer1kEventsS: (m.serverUserWorkerMainThreadCpuS / events) * 1000,
  userWorkerBackgroundCpuPer1kEventsS: (m.serverUserWorkerBackgroundCpuS / events) * 1000,
  proxyCpuPer1kEventsS: (m.serverProxyCpuS / events) * 1000,
  cpuPer1kEventsS: (m.serverCpuS / events) * 1000,
})

/** Sum of several meter readings (CPU, wall, client), max of the peaks, mean of the loads. */
export const sumMeters = (ms) => {
  const sum = (k) => ms.reduce((a, m) => a + (m[k] ?? 0), 0)
  const max = (k) => Math.max(...ms.map((m) => m[k] ?? 0))
  const wallS = sum('wallS')
  const weighted = (k) => ms.reduce((a, m) => a + (m[k] ?? 0) * m.wallS, 0) / wallS
  return {
    wallS,
    serverCpuS: sum('serverCpuS'),
    serverUserWorkerCpuS: sum('serverUserWorkerCpuS'),
    serverUserWorkerMainThreadCpuS: sum('serverUserWorkerMainThreadCpuS'),
    serverUserWorkerBackgroundCpuS: sum('serverUserWorkerBackgroundCpuS'),
    serverProxyCpuS: sum('serverProxyCpuS'),
    serverCpuStatS: sum('serverCpuStatS'),
    serverUserWorkerCpuStatS: sum('serverUserWorkerCpuStatS'),
    cpuSource: ms[0]?.cpuSource,
    wranglerNodeCpuS: sum('wranglerNodeCpuS'),
    clientCpuS: sum('clientCpuS'),
    machineBusyCores: weighted('machineBusyCores'),
    otherProcessesCores: weighted('otherProcessesCores'),
    stealCores: weighted('stealCores'),
    peakRssMb: max('peakRssMb'),
    peakUserWorkerRssMb: max('peakUserWorkerRssMb'),
    hwmMb: max('hwmMb'),
  }
}

/**
 * One fresh store (a fresh Durable Object) and socket per server. With `live`, the socket also
 * holds a live pull, as the published LiveStore client always does: every push is then answered
 * with its `Exit` and, broadcast to that pull, a `Chunk`, which the client acks.
 */
const openPushers = async (servers, { label, live }) => {
  const st = {}
  for (const [kind, server] of Object.entries(servers)) {
    const sock = await RpcSocket.open(server.wsUrl, freshStoreId(label), { payload: server.syncPayload })
    if (live) {
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${kind}: no initial chunk of the live pull`)), 30_000)
        sock.pull({
          live: true,
          onChunk: () => {
            clearTimeout(t)
            resolve()
          },
        })
      })
    }
    st[kind] = { sock, seq: 0, blocks: [], lat: [] }
  }
  return st
}

/**
 * Runs `blocks` rounds; in each, every server gets `perBlock` sequential single-event pushes
 * (each waits for its `Exit`), metered on their own. `settleMs` after each block's last Exit
 * before the meter stops (work the server does after answering is counted too).
 */
const runBlocks = async (servers, st, { blocks, perBlock, settleMs = 50, firstPushMeter = false, gapMs = 0 }) => {
  const kinds = Object.keys(servers)
  for (let b = 0; b < blocks; b++) {
    const order = kinds.map((_, i) => kinds[(i + b) % kinds.length])
    for (const k of order) {
      const s = st[k]
      let n = perBlock
      if (firstPushMeter && b === 0) {
        // the very first push on a fresh server: its own meter (object creation, first queries)
        const m = startMeter(servers[k])
        const t = performance.now()
        await s.sock.push([makeEvent(++s.seq)])
        s.firstPushMs = performance.now() - t
        await sleep(settleMs)
        s.firstPush = m.stop()
        n--
      }
      const meter = startMeter(servers[k])
      for (let i = 0; i < n; i++) {
        const t = performance.now()
        await s.sock.push([makeEvent(++s.seq)])
        s.lat.push(performance.now() - t)
        if (gapMs) await sleep(gapMs)
      }
      await sleep(settleMs)
      s.blocks.push({ events: n, meter: meter.stop() })
    }
  }
}

/** The per-server result of a block run: totals, medians over blocks, per-block values. */
const blockResult = (s, { extra = {} } = {}) => {
  const blocks = s.blocks
  const events = blocks.reduce((a, b) => a + b.events, 0)
  const meter = sumMeters(blocks.map((b) => b.meter))
  const perBlock = blocks.map((b) => per1k(b.meter, b.events))
  const med = (k) => median(perBlock.map((p) => p[k]))
  return {
    events,
    wallS: meter.wallS,
    eventsPerS: events / meter.wallS,
    latencyMs: percentiles(s.lat),
    // the table's CPU figures: medians over the blocks (robust against a noisy moment)
    userWorkerCpuPer1kEventsS: med('userWorkerCpuPer1kEventsS'),
    userWorkerMainThreadCpuPer1kEventsS: med('userWorkerMainThreadCpuPer1kEventsS'),
    userWorkerBackgroundCpuPer1kEventsS: med('userWorkerBackgroundCpuPer1kEventsS'),
    proxyCpuPer1kEventsS: med('proxyCpuPer1kEventsS'),
    cpuPer1kEventsS: med('cpuPer1kEventsS'),
    // ... and over the whole run (sum of the blocks)
    total: per1k(meter, events),
    userWorkerCpuPer1kBlocks: perBlock.map((p) => p.userWorkerCpuPer1kEventsS),
    userWorkerCpuPer1kRange: [Math.min(...perBlock.map((p) => p.userWorkerCpuPer1kEventsS)), Math.max(...perBlock.map((p) => p.userWorkerCpuPer1kEventsS))],
    meter,
    load1AtStart: s.load1AtStart,
    extra: { blocks: blocks.length, perBlock: blocks[0]?.events, ...extra },
  }
}

/**
 * Paired ratio of user-worker CPU per event, block by block (a's block b over b's block b, taken
 * within seconds of each other): median and range over the blocks.
 */
export const pairedRatio = (a, b) => {
  const ra = a?.userWorkerCpuPer1kBlocks
  const rb = b?.userWorkerCpuPer1kBlocks
  if (!ra || !rb || !ra.length) return undefined
  const r = ra.slice(0, rb.length).map((x, i) => x / rb[i])
  return { median: median(r), min: Math.min(...r), max: Math.max(...r), blocks: r }
}

/**
 * push1 (warm): `cfg.push1Events` single-event pushes per server on a fresh store each, in
 * `cfg.push1Blocks` interleaved blocks. Returns {kind: result}.
 */
export const push1 = async (servers, cfg, { live = false } = {}) => {
  const st = await openPushers(servers, { label: live ? 'push1live' : 'push1', live })
  try {
    const blocks = cfg.push1Blocks
    const perBlock = Math.ceil(cfg.push1Events / blocks)
    for (const s of Object.values(st)) s.load1AtStart = loadAvg()[0]
    await runBlocks(servers, st, { blocks, perBlock })
    const out = {}
    for (const k of Object.keys(servers)) out[k] = blockResult(st[k], { extra: { live } })
    for (const k of Object.keys(out)) {
      out[k].extra.ratioToFloor = k !== 'floor' ? pairedRatio(out[k], out.floor) : undefined
    }
    return out
  } finally {
    await Promise.all(Object.values(st).map((s) => s.sock.close()))
  }
}

export const push1Live = (servers, cfg) => push1(servers, cfg, { live: true })

/**
 * push1paced: single-event pushes with `cfg.pacedGapMs` of silence after each Exit, as a user's
 * client sends them (a few per second, not back to back). On this machine a message that arrives
 * at an idle server costs about twice the CPU of one that arrives back to back (caches, branch
 * predictors and the vCPU go cold in between), so this is closer to what a bill sees per event.
 */
export const push1Paced = async (servers, cfg) => {
  const st = await openPushers(servers, { label: 'push1paced', live: false })
  try {
    const blocks = cfg.push1Blocks
    const perBlock = Math.ceil(cfg.pacedEvents / blocks)
    for (const s of Object.values(st)) s.load1AtStart = loadAvg()[0]
    await runBlocks(servers, st, { blocks, perBlock, gapMs: cfg.pacedGapMs })
    const out = {}
    for (const k of Object.keys(servers)) out[k] = blockResult(st[k], { extra: { gapMs: cfg.pacedGapMs } })
    return out
  } finally {
    await Promise.all(Object.values(st).map((s) => s.sock.close()))
  }
}

/**
 * push1cold: the same pushes on servers that have just started (nothing ran on them but the
 * readiness probe `GET /`): `cfg.coldReps` repetitions of `cfg.push1Events` pushes, each on a fresh
 * store, blocks interleaved across servers. Repetition 1 is "cold": it pays the first Durable
 * Object, the first queries, and V8's tier-up of the code (Liftoff → TurboFan for Wasm, the JIT
 * for JS); later repetitions show how fast that fades. This is what a black-box run of a few
 * repetitions on a fresh `wrangler dev` measures.
 */
export const push1Cold = async (servers, cfg) => {
  const reps = []
  for (let rep = 0; rep < cfg.coldReps; rep++) {
    const st = await openPushers(servers, { label: 'push1cold', live: false })
    try {
      const blocks = cfg.push1Blocks
      const perBlock = Math.ceil(cfg.push1Events / blocks)
      for (const s of Object.values(st)) s.load1AtStart = loadAvg()[0]
      await runBlocks(servers, st, { blocks, perBlock, firstPushMeter: rep === 0 })
      reps.push(st)
    } finally {
      await Promise.all(Object.values(st).map((s) => s.sock.close()))
    }
  }
  const out = {}
  for (const k of Object.keys(servers)) {
    const first = reps[0][k]
    const r = blockResult(first)
    // per repetition: user-worker CPU per 1,000 events over the whole repetition (sum of blocks)
    const repFigures = reps.map((st) => {
      const s = st[k]
      const events = s.blocks.reduce((a, b) => a + b.events, 0) + (s.firstPush ? 1 : 0)
      const m = sumMeters([...s.blocks.map((b) => b.meter), ...(s.firstPush ? [s.firstPush] : [])])
      return { ...per1k(m, events), wallS: m.wallS, events }
    })
    out[k] = {
      ...r,
      // cold = the whole first repetition on the fresh server, first push included
      userWorkerCpuPer1kEventsS: repFigures[0].userWorkerCpuPer1kEventsS,
      userWorkerMainThreadCpuPer1kEventsS: repFigures[0].userWorkerMainThreadCpuPer1kEventsS,
      userWorkerBackgroundCpuPer1kEventsS: repFigures[0].userWorkerBackgroundCpuPer1kEventsS,
      proxyCpuPer1kEventsS: repFigures[0].proxyCpuPer1kEventsS,
      cpuPer1kEventsS: repFigures[0].cpuPer1kEventsS,
      wallS: repFigures[0].wallS,
      eventsPerS: repFigures[0].events / repFigures[0].wallS,
      extra: {
        reps: repFigures,
        firstPushMs: first.firstPushMs,
        firstPushUserWorkerCpuMs: first.firstPush ? first.firstPush.serverUserWorkerCpuS * 1000 : undefined,
        firstBlockUserWorkerCpuPer1kS: first.blocks[0] ? per1k(first.blocks[0].meter, first.blocks[0].events).userWorkerCpuPer1kEventsS : undefined,
      },
    }
  }
  return out
}
