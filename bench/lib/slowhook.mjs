// slowhook: does a slow onPush hook delay the store's other clients? On the servers with the
// benchmark's hooks (pkg-hooks on our package, ref-hooks on the reference: bench/apps/hooks.mjs),
// one store each, two clients on their own sockets:
//
// - the other client (F) pushes single events back to back, each waiting for its Exit;
// - the slow client (S) pushes, one at a time, an event named SLOW_EVENT, for which onPush awaits
//   SLOW_HOOK_MS (200 ms) before the push goes on. Its parent is stale (F has moved the head), so
//   after the hook each of its pushes is refused (ServerAheadError, as a real client's would be
//   while another one keeps pushing): nothing of it is stored, and F never has to rebase.
//
// F's pushes are timed in phases "alone" (S idle) and "with" (S looping: a slow hook pending at
// almost every moment), alternating, the servers interleaved block by block like push1. At the end a
// new socket pulls the store: it must hold exactly F's events, in order (admission held).
import { loadAvg } from './procfs.mjs'
import { RpcSocket, makeEvent } from './rpc-client.mjs'
import { sleep, startMeter } from './server.mjs'
import { freshStoreId, percentiles } from './stats.mjs'
import { SLOW_EVENT, SLOW_HOOK_MS } from '../apps/hooks.mjs'

const slowEvent = () => ({ ...makeEvent(1, 'bench-slow-client'), name: SLOW_EVENT })

/** S's loop: slow pushes one after the other until stopped; resolves with their latencies once idle. */
const startSlowClient = (sock) => {
  let stopped = false
  const lat = []
  const refusals = {}
  let sent = 0
  const running = (async () => {
    while (!stopped) {
      const t = performance.now()
      sent++
      try {
        await sock.push([slowEvent()])
        refusals.accepted = (refusals.accepted ?? 0) + 1
      } catch (e) {
        const tag = String(e.message).match(/"_tag":"(\w+Error)"/)?.[1] ?? 'other'
        refusals[tag] = (refusals[tag] ?? 0) + 1
      }
      lat.push(performance.now() - t)
    }
  })()
  return {
    // a push in flight is let finish, so that the next phase starts with no slow hook pending
    stop: async () => {
      stopped = true
      await running
      return { lat, sent, refusals }
    },
  }
}

export const slowHook = async (servers, cfg) => {
  const st = {}
  for (const [k, server] of Object.entries(servers)) {
    const storeId = freshStoreId('slowhook')
    const fast = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
    const slow = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
    // the head is past S's parent before S pushes anything
    await fast.push([makeEvent(1)])
    st[k] = { storeId, fast, slow, seq: 1, lat: { alone: [], with: [] }, meters: { alone: [], with: [] }, slowLat: [], slowSent: 0, refusals: {}, failures: 0 }
    st[k].load1AtStart = loadAvg()[0]
  }
  try {
    const kinds = Object.keys(servers)
    for (let b = 0; b < cfg.slowBlocks; b++) {
      const order = kinds.map((_, i) => kinds[(i + b) % kinds.length])
      for (const k of order) {
        const s = st[k]
        const phases = b % 2 ? ['with', 'alone'] : ['alone', 'with']
        for (const phase of phases) {
          const slowClient = phase === 'with' ? startSlowClient(s.slow) : undefined
          // S's first push is in its hook before F starts
          if (slowClient) await sleep(20)
          const meter = startMeter(servers[k])
          for (let i = 0; i < cfg.slowPushes; i++) {
            const t = performance.now()
            try {
              await s.fast.push([makeEvent(++s.seq)])
            } catch (e) {
              s.failures++
              s.lastFailure = String(e.message).slice(0, 300)
              s.seq--
            }
            s.lat[phase].push(performance.now() - t)
          }
          s.meters[phase].push({ events: cfg.slowPushes, meter: meter.stop() })
          if (slowClient) {
            const r = await slowClient.stop()
            s.slowLat.push(...r.lat)
            s.slowSent += r.sent
            for (const [tag, n] of Object.entries(r.refusals)) s.refusals[tag] = (s.refusals[tag] ?? 0) + n
          }
          await sleep(50)
        }
      }
    }
    const out = {}
    for (const k of kinds) {
      const s = st[k]
      // admission: the store holds F's events 1..seq, in order, and none of S's
      const check = await RpcSocket.open(servers[k].wsUrl, s.storeId, { payload: servers[k].syncPayload })
      const stored = []
      try {
        await check.pull({ live: false, timeoutMs: 60_000, onChunk: (values) => values.forEach((r) => r.batch.forEach((it) => stored.push(it.eventEncoded))) }).done
      } finally {
        await check.close()
      }
      const admissionHeld = stored.length === s.seq && stored.every((e, i) => e.seqNum === i + 1 && e.name !== SLOW_EVENT)
      const cpu = (phase) => {
        const ms = s.meters[phase]
        const events = ms.reduce((a, m) => a + m.events, 0)
        return (ms.reduce((a, m) => a + m.meter.serverUserWorkerCpuS, 0) / events) * 1000
      }
      const wall = (phase) => s.meters[phase].reduce((a, m) => a + m.meter.wallS, 0)
      const other = (phase) => s.meters[phase].reduce((a, m) => a + m.meter.otherProcessesCores * m.meter.wallS, 0) / wall(phase)
      const last = s.meters.with.at(-1)?.meter
      out[k] = {
        events: s.lat.alone.length + s.lat.with.length,
        wallS: wall('alone') + wall('with'),
        latencyMs: percentiles(s.lat.alone),
        userWorkerCpuPer1kEventsS: cpu('alone'),
        meter: last && { ...last, otherProcessesCores: (other('alone') * wall('alone') + other('with') * wall('with')) / (wall('alone') + wall('with')) },
        load1AtStart: s.load1AtStart,
        extra: {
          slowHookMs: SLOW_HOOK_MS,
          blocks: cfg.slowBlocks,
          pushesPerPhase: cfg.slowPushes,
          withSlowLatencyMs: percentiles(s.lat.with),
          withSlowUserWorkerCpuPer1kEventsS: cpu('with'),
          slowPushLatencyMs: percentiles(s.slowLat),
          slowPushes: s.slowSent,
          slowPushOutcomes: s.refusals,
          fastFailures: s.failures,
          lastFailure: s.lastFailure,
          storedEvents: stored.length,
          admissionHeld,
          otherProcessesCores: { alone: other('alone'), with: other('with') },
        },
      }
    }
    return out
  } finally {
    await Promise.all(Object.values(st).flatMap((s) => [s.fast.close(), s.slow.close()]))
  }
}
