// Many sockets: one store with N live pulls and one pusher at a steady rate (`scale`), and many
// stores in parallel with a few clients each (`stores`). Open loop: pushes leave on a fixed
// schedule whatever the server's answers, so a server that cannot keep up shows it as latency (a
// pusher waits only when it has `maxOutstanding` pushes without an Exit, and that is counted).
// Every delivery is acked by its client, like the published client does (each Ack is one more
// message to the Durable Object).
import { RpcSocket, makeEvent, rawSeqNums } from './rpc-client.mjs'
import { sleep, startMeter, userWorkerRssMb } from './server.mjs'
import { freshStoreId, percentiles } from './stats.mjs'

const OPEN_BATCH = 25
const round1 = (x) => (x === undefined ? null : Math.round(x * 10) / 10)

/** Opens `n` sockets to `storeId`, OPEN_BATCH at a time. */
const openSockets = async (server, storeId, n, all, { ack = true } = {}) => {
  const out = []
  for (let i = 0; i < n; i += OPEN_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, n - i) }, () => RpcSocket.open(server.wsUrl, storeId, { timeoutMs: 60_000, ack })))
    out.push(...batch)
    all.push(...batch)
  }
  return out
}

/**
 * Starts a live pull on every socket; resolves when each has had its first (history) chunk (or,
 * from the floor object, which answers every message with an Exit, its Exit).
 */
const startLivePulls = (socks, onEvent) =>
  Promise.all(
    socks.map(
      (sock, idx) =>
        new Promise((resolve, reject) => {
          let initial = true
          const t = setTimeout(() => reject(new Error(`puller ${idx} of ${sock.storeId}: no initial chunk within 60 s`)), 60_000)
          const first = () => {
            if (initial) {
              initial = false
              clearTimeout(t)
              resolve()
            }
          }
          const { done } = sock.pull({
            live: true,
            onChunkRaw: (text) => {
              first()
              const now = performance.now()
              for (const seq of rawSeqNums(text)) onEvent(idx, seq, now)
            },
          })
          done.then(first, () => {})
        }),
    ),
  )

/** Delivery bookkeeping of one store: send time, acks and arrivals of every pushed event. */
class Tracker {
  constructor(receivers) {
    this.receivers = receivers
    this.sent = new Map() // seq → {t, remaining, ackMs, allMs}
    this.perDelivery = []
    this.allReceived = []
    this.acks = []
    this.duplicatesOrGaps = 0
    this.next = new Array(receivers).fill(1)
    this.undelivered = 0
  }
  onSend(seq, t) {
    this.sent.set(seq, { t, remaining: this.receivers })
  }
  onEvent(idx, seq, now) {
    if (seq !== this.next[idx]) this.duplicatesOrGaps++
    this.next[idx] = seq + 1
    const s = this.sent.get(seq)
    if (!s) return
    const ms = now - s.t
    this.perDelivery.push(ms)
    if (--s.remaining === 0) {
      this.allReceived.push(ms)
      s.allMs = ms
    }
  }
  onAck(seq, now) {
    const s = this.sent.get(seq)
    if (s) {
      s.ackMs = now - s.t
      this.acks.push(s.ackMs)
    }
  }
  pending() {
    let n = 0
    for (const s of this.sent.values()) if (s.remaining > 0 || s.ackMs === undefined) n++
    return n
  }
  finish() {
    for (const s of this.sent.values()) this.undelivered += Math.max(0, s.remaining)
  }
  /** [sent at (ms from `t0`), push → Exit, push → all received] per push, for the JSON. */
  timeline(t0) {
    return [...this.sent.values()].map((s) => [Math.round(s.t - t0), round1(s.ackMs), round1(s.allMs)])
  }
}

/**
 * Pushes single events from `pusher` every 1/`rate` s from `startAt` until `endAt` (performance.now
 * times). A push waits only when `maxOutstanding` pushes have no Exit yet (counted as `held`).
 */
const steadyPusher = async ({ pusher, tracker, rate, startAt, endAt, seq0 = 0, maxOutstanding = 50 }) => {
  let seq = seq0
  let outstanding = 0
  let held = 0
  let failures = 0
  const inflight = new Set()
  for (let k = 0; ; k++) {
    const due = startAt + (k * 1000) / rate
    if (due >= endAt) break
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (outstanding >= maxOutstanding) {
      held++
      await Promise.race(inflight)
    }
    const s = ++seq
    const t = performance.now()
    tracker.onSend(s, t)
    outstanding++
    const p = pusher
      .push([makeEvent(s)])
      .then(
        () => tracker.onAck(s, performance.now()),
        () => failures++,
      )
      .finally(() => {
        outstanding--
        inflight.delete(p)
      })
    inflight.add(p)
  }
  await Promise.all(inflight)
  return { pushes: seq - seq0, held, failures, lastSeq: seq }
}

/** Waits until every tracker has nothing pending, or `timeoutMs`. */
const drain = async (trackers, timeoutMs) => {
  const end = performance.now() + timeoutMs
  while (performance.now() < end) {
    if (trackers.every((t) => t.pending() === 0)) return true
    await sleep(20)
  }
  return false
}

/**
 * The push rate of the scale workload with `n` live pulls: `cfg.scaleRate`, capped so that the
 * object delivers at most `cfg.scaleMaxDeliveries` events per second (each delivery also brings an
 * Ack back): at 1,000 sockets one push costs the object ~0.1 s of CPU, and on a shared 2-core
 * machine a saturated run measures the queue, not the fan-out.
 */
export const scaleRateFor = (cfg, n) => Math.min(cfg.scaleRate, cfg.scaleMaxDeliveries / n)

/**
 * One store, `n` live pulls, one more socket pushing `cfg.scalePushes` single events at
 * `scaleRateFor(cfg, n)` per second. Metered: the connect phase (open + first chunks) and the push phase (from
 * the first push until everything was delivered and acked).
 */
export const scaleOne = async (server, cfg, n, { connectOnly = false } = {}) => {
  const storeId = freshStoreId(`scale${n}`)
  const all = []
  try {
    const rssBeforeMb = userWorkerRssMb(server)
    const tracker = new Tracker(n)
    const connect = startMeter(server)
    const t0 = performance.now()
    const pullers = await openSockets(server, storeId, n, all, { ack: cfg.scaleAck !== false })
    await startLivePulls(pullers, (idx, seq, now) => tracker.onEvent(idx, seq, now))
    const connectMs = performance.now() - t0
    const connectMeter = connect.stop()
    await sleep(200)
    const rssConnectedMb = userWorkerRssMb(server)
    const connectFigures = {
      sockets: n,
      connectMs,
      connectUserWorkerCpuPerSocketMs: (connectMeter.serverUserWorkerCpuS / n) * 1000,
      rssBeforeMb,
      rssConnectedMb,
      rssPerSocketKb: ((rssConnectedMb - rssBeforeMb) * 1024) / n,
      peakUserWorkerRssMb: connectMeter.peakUserWorkerRssMb,
    }
    // the floor object cannot broadcast: it is measured on the connect phase only (what the runtime
    // itself costs per socket: upgrade, accept, one message and its reply, memory)
    if (connectOnly) return { events: n, meter: connectMeter, extra: { ...connectFigures, connectOnly: true } }
    const [pusher] = await openSockets(server, storeId, 1, all)
    const rate = scaleRateFor(cfg, n)
    const meter = startMeter(server)
    const startAt = performance.now() + 20
    const r = await steadyPusher({ pusher, tracker, rate, startAt, endAt: startAt + (cfg.scalePushes * 1000) / rate - 1 })
    const drained = await drain([tracker], cfg.drainMs)
    const m = meter.stop()
    tracker.finish()
    const deliveries = tracker.perDelivery.length
    const all50 = percentiles(tracker.allReceived)
    return {
      events: r.pushes,
      wallS: m.wallS,
      eventsPerS: r.pushes / m.wallS,
      latencyMs: all50,
      meter: m,
      load1AtStart: undefined,
      cpuPer1kEventsS: (m.serverCpuS / r.pushes) * 1000,
      userWorkerCpuPer1kEventsS: (m.serverUserWorkerCpuS / r.pushes) * 1000,
      extra: {
        ...connectFigures,
        acks: cfg.scaleAck !== false,
        rate,
        seconds: cfg.scalePushes / rate,
        pushes: r.pushes,
        held: r.held,
        pushFailures: r.failures,
        drained,
        undelivered: tracker.undelivered,
        duplicatesOrGaps: tracker.duplicatesOrGaps,
        deliveries,
        deliveriesPerS: deliveries / m.wallS,
        perDeliveryLatencyMs: percentiles(tracker.perDelivery),
        pushExitLatencyMs: percentiles(tracker.acks),
        userWorkerCpuPerPushMs: (m.serverUserWorkerCpuS / r.pushes) * 1000,
        userWorkerCpuPerDeliveryUs: (m.serverUserWorkerCpuS / Math.max(1, deliveries)) * 1e6,
        allWorkerdCpuPerDeliveryUs: (m.serverCpuS / Math.max(1, deliveries)) * 1e6,
        peakUserWorkerRssMb: Math.max(m.peakUserWorkerRssMb, connectMeter.peakUserWorkerRssMb),
        clientCpuPct: (100 * m.clientCpuS) / m.wallS,
        clientCpuPerPushMs: (m.clientCpuS / r.pushes) * 1000,
        proxyCpuPerPushMs: (m.serverProxyCpuS / r.pushes) * 1000,
        timeline: tracker.timeline(startAt),
      },
    }
  } finally {
    await Promise.all(all.map((s) => s.close()))
  }
}

/**
 * `cfg.stores` stores at once, each with one pusher and `cfg.storePullers` live pulls. Phase 1
 * (steady): every pusher sends `cfg.storesRate` single events per second for `cfg.storesSeconds`,
 * the stores' schedules spread evenly over one period; latency of push → all of its store's
 * pullers received it, and of push → Exit. Phase 2 (throughput): for `cfg.storesBurstSeconds`
 * every pusher pushes as fast as its Exits come back (one push in flight per store); events/s.
 */
export const stores = async (server, cfg) => {
  const S = cfg.stores
  const P = cfg.storePullers
  const all = []
  try {
    const rssBeforeMb = userWorkerRssMb(server)
    const shops = []
    const connect = startMeter(server)
    const t0 = performance.now()
    for (let i = 0; i < S; i += 10) {
      const group = await Promise.all(
        Array.from({ length: Math.min(10, S - i) }, async () => {
          const storeId = freshStoreId('stores')
          const tracker = new Tracker(P)
          const pullers = await openSockets(server, storeId, P, all)
          await startLivePulls(pullers, (idx, seq, now) => tracker.onEvent(idx, seq, now))
          const [pusher] = await openSockets(server, storeId, 1, all)
          return { storeId, tracker, pusher, seq: 0 }
        }),
      )
      shops.push(...group)
    }
    const connectMs = performance.now() - t0
    const connectMeter = connect.stop()
    await sleep(200)
    const rssConnectedMb = userWorkerRssMb(server)

    // phase 1: steady rate
    const meter = startMeter(server)
    const period = 1000 / cfg.storesRate
    const base = performance.now() + 50
    const endAt = base + cfg.storesSeconds * 1000
    const results = await Promise.all(
      shops.map((s, i) => steadyPusher({ pusher: s.pusher, tracker: s.tracker, rate: cfg.storesRate, startAt: base + (i * period) / S, endAt, maxOutstanding: 10 })),
    )
    const drained = await drain(
      shops.map((s) => s.tracker),
      cfg.drainMs,
    )
    const m = meter.stop()
    shops.forEach((s, i) => {
      s.seq = results[i].lastSeq
      s.tracker.finish()
    })
    const pushes = results.reduce((a, r) => a + r.pushes, 0)
    const deliveries = shops.reduce((a, s) => a + s.tracker.perDelivery.length, 0)
    const allReceived = shops.flatMap((s) => s.tracker.allReceived)
    const acks = shops.flatMap((s) => s.tracker.acks)

    // phase 2: closed loop, one push in flight per store
    const burst = { pushes: 0, failures: 0 }
    const bm = startMeter(server)
    const burstEnd = performance.now() + cfg.storesBurstSeconds * 1000
    const burstTrackers = shops.map(() => new Tracker(P))
    await Promise.all(
      shops.map(async (s, i) => {
        const tr = burstTrackers[i]
        // route the pullers' arrivals of this phase to its own tracker
        s.tracker.onEvent = (idx, seq, now) => tr.onEvent(idx, seq, now)
        tr.next = s.tracker.next
        while (performance.now() < burstEnd) {
          const q = ++s.seq
          tr.onSend(q, performance.now())
          try {
            await s.pusher.push([makeEvent(q)])
            tr.onAck(q, performance.now())
            burst.pushes++
          } catch {
            burst.failures++
            break
          }
        }
      }),
    )
    const burstAckedS = (performance.now() - (burstEnd - cfg.storesBurstSeconds * 1000)) / 1000
    const burstDrained = await drain(burstTrackers, cfg.drainMs)
    const b = bm.stop()
    burstTrackers.forEach((t) => t.finish())
    const burstDeliveries = burstTrackers.reduce((a, t) => a + t.perDelivery.length, 0)

    return {
      events: pushes,
      wallS: m.wallS,
      eventsPerS: pushes / m.wallS,
      latencyMs: percentiles(allReceived),
      meter: m,
      load1AtStart: undefined,
      cpuPer1kEventsS: (m.serverCpuS / pushes) * 1000,
      userWorkerCpuPer1kEventsS: (m.serverUserWorkerCpuS / pushes) * 1000,
      extra: {
        stores: S,
        pullersPerStore: P,
        sockets: S * (P + 1),
        ratePerStore: cfg.storesRate,
        seconds: cfg.storesSeconds,
        pushes,
        held: results.reduce((a, r) => a + r.held, 0),
        pushFailures: results.reduce((a, r) => a + r.failures, 0),
        drained,
        undelivered: shops.reduce((a, s) => a + s.tracker.undelivered, 0),
        duplicatesOrGaps: shops.reduce((a, s) => a + s.tracker.duplicatesOrGaps, 0),
        deliveries,
        deliveriesPerS: deliveries / m.wallS,
        pushExitLatencyMs: percentiles(acks),
        perDeliveryLatencyMs: percentiles(shops.flatMap((s) => s.tracker.perDelivery)),
        userWorkerCpuPerPushMs: (m.serverUserWorkerCpuS / pushes) * 1000,
        userWorkerCpuPerDeliveryUs: (m.serverUserWorkerCpuS / Math.max(1, deliveries)) * 1e6,
        connectMs,
        connectUserWorkerCpuPerSocketMs: (connectMeter.serverUserWorkerCpuS / (S * (P + 1))) * 1000,
        rssBeforeMb,
        rssConnectedMb,
        peakUserWorkerRssMb: Math.max(m.peakUserWorkerRssMb, b.peakUserWorkerRssMb, connectMeter.peakUserWorkerRssMb),
        clientCpuPct: (100 * m.clientCpuS) / m.wallS,
        burst: {
          seconds: cfg.storesBurstSeconds,
          pushes: burst.pushes,
          failures: burst.failures,
          eventsPerS: burst.pushes / burstAckedS,
          deliveries: burstDeliveries,
          drained: burstDrained,
          undelivered: burstTrackers.reduce((a, t) => a + t.undelivered, 0),
          pushExitLatencyMs: percentiles(burstTrackers.flatMap((t) => t.acks)),
          userWorkerCpuPer1kEventsS: (b.serverUserWorkerCpuS / Math.max(1, burst.pushes)) * 1000,
          cpuPer1kEventsS: (b.serverCpuS / Math.max(1, burst.pushes)) * 1000,
          clientCpuPct: (100 * b.clientCpuS) / b.wallS,
          meter: b,
        },
      },
    }
  } finally {
    await Promise.all(all.map((s) => s.close()))
  }
}
