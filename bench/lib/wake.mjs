// Wake latency: what a client waits for, and what the server spends, on the first message to a
// Durable Object that local workerd has evicted (it does so after ~10 s without events; its
// hibernatable sockets stay open). Evictions are proven from the servers' own log lines: ours logs
// `store.load` with a random `instance` name whenever a new instance opens the store (LOG_LEVEL
// info), the benchmark's reference wrapper and the floor log one line per new instance.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'

import { RpcSocket, makeEvent } from './rpc-client.mjs'
import { sleep, startMeter } from './server.mjs'
import { freshStoreId, median } from './stats.mjs'

/** The instance names that opened `storeId`, in log order, from a server's log file. */
export const instancesOf = (server, storeId) => {
  let text
  try {
    text = readFileSync(server.logFile, 'utf8')
  } catch {
    return undefined
  }
  const out = []
  for (const line of text.split('\n')) {
    if (!line.includes(storeId)) continue
    const at = line.indexOf('{')
    if (at < 0) continue
    let j
    try {
      j = JSON.parse(line.slice(at))
    } catch {
      continue
    }
    if (j.event === 'store.load' && j.store === storeId) out.push(j.instance)
    else if ((j.event === 'bench.ref.instance' || j.event === 'bench.floor.instance') && j.name === storeId) out.push(j.instance)
  }
  return out
}

/** Opens a socket and sends a live pull; resolves with times (ms from the start) of open and first response. */
const connectAndPull = async (server, storeId) => {
  const t0 = performance.now()
  const sock = await RpcSocket.open(server.wsUrl, storeId)
  const openMs = performance.now() - t0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${storeId}: no first pull response within 30 s`)), 30_000)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    // the first Chunk (ours, the reference), or the Exit the floor answers every message with
    const { done: exit } = sock.pull({ live: true, onChunk: done })
    exit.then(done, reject)
  })
  return { sock, openMs, firstResponseMs: performance.now() - t0 }
}

const SEED = 5

/**
 * Per server: `cfg.wakeReps` stores for (a), each seeded with a few events and left with no socket
 * open; `cfg.wakeReps` stores for (b), each seeded through a socket that stays open. Warm baselines
 * first (objects in use), then one idle period of `cfg.wakeIdleMs` for all servers together, then
 * (a) connect → first pull response on a new socket, and (b) push → ack on the old socket, each
 * metered on its own. Returns {kind: result}.
 */
export const wake = async (servers, cfg) => {
  const K = cfg.wakeReps
  const st = {}
  const sockets = []
  try {
    for (const [kind, server] of Object.entries(servers)) {
      const s = { a: [], b: [], warmA: [], warmB: [] }
      for (let i = 0; i < K; i++) {
        const a = freshStoreId('wake-a')
        const sa = await RpcSocket.open(server.wsUrl, a)
        for (let q = 1; q <= SEED; q++) await sa.push([makeEvent(q)])
        await sa.close()
        s.a.push({ storeId: a })
        const b = freshStoreId('wake-b')
        const sb = await RpcSocket.open(server.wsUrl, b)
        sockets.push(sb)
        for (let q = 1; q <= SEED; q++) await sb.push([makeEvent(q)])
        s.b.push({ storeId: b, sock: sb, seq: SEED })
      }
      // warm baselines on a store in use (its pusher stays open and has just pushed)
      const w = freshStoreId('wake-w')
      const sw = await RpcSocket.open(server.wsUrl, w)
      sockets.push(sw)
      let seq = 0
      for (let q = 0; q < SEED; q++) await sw.push([makeEvent(++seq)])
      for (let i = 0; i < K; i++) {
        const m = startMeter(server)
        const r = await connectAndPull(server, w)
        await sleep(50)
        s.warmA.push({ ...r, meter: m.stop() })
        await r.sock.close()
        const m2 = startMeter(server)
        const t = performance.now()
        await sw.push([makeEvent(++seq)])
        const ackMs = performance.now() - t
        await sleep(50)
        s.warmB.push({ ackMs, meter: m2.stop() })
      }
      s.before = Object.fromEntries([...s.a, ...s.b].map((x) => [x.storeId, instancesOf(server, x.storeId) ?? []]))
      st[kind] = s
    }
    // one idle period for every server: nothing at all is sent (the (b) sockets stay open)
    const idleStart = performance.now()
    await sleep(cfg.wakeIdleMs)
    const idleS = (performance.now() - idleStart) / 1000
    for (const [kind, server] of Object.entries(servers)) {
      const s = st[kind]
      for (const x of s.a) {
        const m = startMeter(server)
        const r = await connectAndPull(server, x.storeId)
        await sleep(50)
        Object.assign(x, { openMs: r.openMs, firstResponseMs: r.firstResponseMs, meter: m.stop() })
        sockets.push(r.sock)
      }
      for (const x of s.b) {
        const m = startMeter(server)
        const t = performance.now()
        await x.sock.push([makeEvent(++x.seq)])
        x.ackMs = performance.now() - t
        await sleep(50)
        x.meter = m.stop()
      }
    }
    await sleep(500) // let wrangler write the log lines of the new instances
    const out = {}
    for (const [kind, server] of Object.entries(servers)) {
      const s = st[kind]
      const evicted = (x) => {
        const before = s.before[x.storeId]
        const after = instancesOf(server, x.storeId) ?? []
        return after.length > before.length ? true : before.length > 0 ? false : undefined
      }
      for (const x of [...s.a, ...s.b]) x.evicted = evicted(x)
      const all = (xs) => (xs.every((x) => x.evicted === true) ? true : xs.every((x) => x.evicted === false) ? false : xs.some((x) => x.evicted === undefined) ? undefined : 'mixed')
      const ms = (xs, f) => median(xs.map(f))
      out[kind] = {
        events: 1,
        wallS: undefined,
        latencyMs: {
          n: K,
          connectToFirstPull: ms(s.a, (x) => x.firstResponseMs),
          connectOpen: ms(s.a, (x) => x.openMs),
          pushToAck: ms(s.b, (x) => x.ackMs),
          warmConnectToFirstPull: ms(s.warmA, (x) => x.firstResponseMs),
          warmPushToAck: ms(s.warmB, (x) => x.ackMs),
        },
        meter: s.b[0]?.meter,
        load1AtStart: undefined,
        extra: {
          idleS,
          evictedA: all(s.a),
          evictedB: all(s.b),
          connectCpuMs: ms(s.a, (x) => x.meter.serverUserWorkerCpuS * 1000),
          pushCpuMs: ms(s.b, (x) => x.meter.serverUserWorkerCpuS * 1000),
          warmConnectCpuMs: ms(s.warmA, (x) => x.meter.serverUserWorkerCpuS * 1000),
          warmPushCpuMs: ms(s.warmB, (x) => x.meter.serverUserWorkerCpuS * 1000),
          connectMainThreadCpuMs: ms(s.a, (x) => x.meter.serverUserWorkerMainThreadCpuS * 1000),
          pushMainThreadCpuMs: ms(s.b, (x) => x.meter.serverUserWorkerMainThreadCpuS * 1000),
          a: s.a.map(({ storeId, openMs, firstResponseMs, evicted, meter }) => ({ storeId, openMs, firstResponseMs, evicted, userWorkerCpuMs: meter.serverUserWorkerCpuS * 1000, mainThreadCpuMs: meter.serverUserWorkerMainThreadCpuS * 1000 })),
          b: s.b.map(({ storeId, ackMs, evicted, meter }) => ({ storeId, ackMs, evicted, userWorkerCpuMs: meter.serverUserWorkerCpuS * 1000, mainThreadCpuMs: meter.serverUserWorkerMainThreadCpuS * 1000 })),
          warmA: s.warmA.map(({ openMs, firstResponseMs, meter }) => ({ openMs, firstResponseMs, userWorkerCpuMs: meter.serverUserWorkerCpuS * 1000 })),
          warmB: s.warmB.map(({ ackMs, meter }) => ({ ackMs, userWorkerCpuMs: meter.serverUserWorkerCpuS * 1000 })),
        },
      }
    }
    return out
  } finally {
    await Promise.all(sockets.map((s) => s.close()))
  }
}

/**
 * Size of a Worker's Wasm module (raw, gzip level 9 as uploaded bundles are compressed), and how
 * long V8 takes to compile it, measured in a separate Node 22 process (V8 12.4, not workerd's V8:
 * a ratio between modules, not workerd's figure): `lazy` = V8's default (functions compiled on
 * first call), `eager` = every function with Liftoff up front, `turbofan` = every function with
 * the optimising tier up front (what a fully warmed-up module has cost in all).
 */
export const wasmInfo = (wasmPath, { nodeBin = process.execPath, reps = 3 } = {}) => {
  const bytes = readFileSync(wasmPath)
  const info = { path: wasmPath, rawKb: statSync(wasmPath).size / 1024, gzipKb: gzipSync(bytes, { level: 9 }).length / 1024 }
  // one compile per process: V8 caches a compiled module by its bytes within a process
  const script = path.join(os.tmpdir(), `bench-wasm-compile-${process.pid}.mjs`)
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs'
const bytes = readFileSync(process.argv[2])
const t = performance.now()
new WebAssembly.Module(bytes)
console.log(JSON.stringify({ ms: performance.now() - t }))
`,
  )
  const modes = {
    lazy: ['--wasm-lazy-compilation'],
    eager: ['--no-wasm-lazy-compilation', '--liftoff', '--no-wasm-tier-up'],
    turbofan: ['--no-wasm-lazy-compilation', '--no-liftoff'],
  }
  for (const [mode, flags] of Object.entries(modes)) {
    const times = []
    for (let i = 0; i < reps; i++) {
      const r = spawnSync(nodeBin, [...flags, script, wasmPath], { encoding: 'utf8' })
      try {
        times.push(JSON.parse(r.stdout.trim().split('\n').pop()).ms)
      } catch {
        info[`${mode}CompileError`] = (r.stderr || r.stdout).slice(0, 300)
      }
    }
    times.sort((a, b) => a - b)
    if (times.length) info[`${mode}CompileMs`] = times[times.length >> 1]
  }
  rmSync(script, { force: true })
  return info
}
