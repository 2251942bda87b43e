// What a store costs on Cloudflare's bill, per server: billed units measured in one short phase per
// workload, then turned into dollars with bench/lib/prices.mjs.
//
// Units, and how each is obtained:
//   rows read / written  measured: the runtime's own counters (SQL cursors' rowsRead/rowsWritten,
//                        D1 results' meta), counted inside each server's Durable Object by
//                        bench/usage/meter.mjs; each setAlarm() is added as one row written.
//   DO requests          measured at the client: upgrades + incoming WebSocket frames / 20 (every
//                        frame the client sends: requests, Acks) + alarm invocations (counted in
//                        the object).
//   Worker requests      measured at the client: upgrades (WebSocket messages are not Worker requests).
//   DO active time       estimated: a hibernatable object is billed only while a handler runs, so
//                        the sum of the client's request → answer latencies (an upper bound: it
//                        includes the loopback hops and wrangler's proxy). For the reference, which
//                        never becomes eligible for hibernation with a socket open, the idle rows
//                        below carry its real duration.
//   idle                 measured: whether the object was evicted during 12 s without traffic (a new
//                        instance served the next push); the published client's 10 s pings are
//                        auto-responses (no duration) and counted as incoming messages (an upper
//                        bound: the pricing page exempts protocol pings, and says nothing of these).
import * as P from './prices.mjs'
import { RpcSocket, clientCounts, eventRange } from './rpc-client.mjs'
import { sleep, startMeter } from './server.mjs'
import { freshStoreId } from './stats.mjs'

/** = bench/usage/meter.mjs USAGE_STORE (that module runs inside the servers, not here). */
const USAGE_STORE = 'bench-usage-probe'

/** The usage counters of the server's objects since the last call (and resets them); `arm`: count on after it. */
export const usage = async (server, { arm }) => {
  const res = await fetch(`${server.url}/?storeId=${USAGE_STORE}&transport=http&arm=${arm ? 1 : 0}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '[]',
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`usage probe: HTTP ${res.status} ${text.slice(0, 200)}`)
  return JSON.parse(text)
}

/** Runs `fn` as one measured phase: usage, client counts, wall time, user-worker CPU. */
const phase = async (server, fn) => {
  await usage(server, { arm: true })
  const before = { ...clientCounts }
  const meter = startMeter(server)
  const t0 = performance.now()
  const extra = (await fn()) ?? {}
  const wallS = (performance.now() - t0) / 1000
  const m = meter.stop()
  const u = await usage(server, { arm: false })
  return {
    usage: u,
    frames: clientCounts.frames - before.frames,
    upgrades: clientCounts.upgrades - before.upgrades,
    wallS,
    cpuS: m.serverUserWorkerCpuS,
    ...extra,
  }
}

/** Counts the events a live pull receives; `until(n)` waits for n of them. */
const livePuller = (sock) => {
  let events = 0
  let chunks = 0
  const waiters = new Set()
  sock.pull({
    live: true,
    onChunk: (values) => {
      chunks++
      for (const r of values) events += r.batch.length
      for (const w of [...waiters]) w()
    },
  })
  const until = (pred, what, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) {
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`live pull: ${what} not within ${timeoutMs} ms (${events} events)`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return { events: () => events, started: () => until(() => chunks > 0, 'first response'), until: (n) => until(() => events >= n, `${n} events`) }
}

/**
 * `events` events in pushes of `perPush`, in the published client's shape: the pusher has a live
 * pull of its own, and one other client live-pulls (every event is delivered twice). Sockets and
 * pulls are set up before the phase; `pulls: false` (the floor, which cannot broadcast) pushes only.
 */
const pushes = async (server, { events, perPush, pulls = true }) => {
  const storeId = freshStoreId('cost')
  const a = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  const b = pulls ? await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload }) : undefined
  try {
    const mine = pulls ? livePuller(a) : undefined
    const other = pulls ? livePuller(b) : undefined
    await mine?.started()
    await other?.started()
    return await phase(server, async () => {
      let latencyS = 0
      for (let from = 1; from <= events; from += perPush) {
        const t = performance.now()
        await a.push(eventRange(from, Math.min(events, from + perPush - 1)))
        latencyS += (performance.now() - t) / 1000
      }
      await other?.until(events)
      await mine?.until(events)
      return { events, latencyS }
    })
  } finally {
    await a.close()
    await b?.close()
  }
}

/** A cold non-live pull of `events` events by a new socket (seeded before the phase; connect included). */
const pull = async (server, { events }) => {
  const storeId = freshStoreId('cost-pull')
  const seeder = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  for (let from = 1; from <= events; from += 100) await seeder.push(eventRange(from, Math.min(events, from + 99)))
  await seeder.close()
  let sock
  try {
    return await phase(server, async () => {
      const t = performance.now()
      sock = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
      let got = 0
      await sock.pull({ live: false, timeoutMs: 120_000, onChunk: (values) => values.forEach((r) => (got += r.batch.length)) }).done
      if (got !== events) throw new Error(`pull: ${got} of ${events} events`)
      return { events, latencyS: (performance.now() - t) / 1000 }
    })
  } finally {
    await sock?.close()
  }
}

/**
 * One connected client idle for `idleMs`: a socket with a live pull, one event pushed, then
 * nothing; the next push comes from another socket. `evicted`: a new instance served it.
 */
const idle = async (server, { idleMs, pulls = true }) => {
  const storeId = freshStoreId('cost-idle')
  const a = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
  let b
  try {
    if (pulls) await livePuller(a).started()
    await a.push(eventRange(1, 1))
    const idlePhase = await phase(server, async () => {
      await sleep(idleMs)
    })
    const wake = await phase(server, async () => {
      b = await RpcSocket.open(server.wsUrl, storeId, { payload: server.syncPayload })
      await b.push(eventRange(2, 2))
    })
    return { idleMs, idleUsage: idlePhase.usage, evicted: wake.usage.instances > 0, wakeUsage: wake.usage }
  } finally {
    await a.close()
    await b?.close()
  }
}

/** The cost workloads of one server kind (the floor pushes only); `idle` can run apart (measureIdle). */
export const measureCost = async (server, kind, { idleMs = 12_000, withIdle = true } = {}) => {
  const pulls = kind !== 'floor'
  const out = {}
  out.push1 = await pushes(server, { events: 300, perPush: 1, pulls })
  out.push100 = await pushes(server, { events: 2_000, perPush: 100, pulls })
  if (pulls) out.pull = await pull(server, { events: 2_000 })
  if (withIdle) out.idle = await measureIdle(server, kind, { idleMs })
  return out
}

/** The idle workload alone: nothing happens meanwhile, so several servers can run it at once. */
export const measureIdle = (server, kind, { idleMs = 12_000 } = {}) => idle(server, { idleMs, pulls: kind !== 'floor' })

/** Billed units per event of a phase. */
export const unitsPerEvent = (p) => {
  const u = p.usage
  const n = p.events
  return {
    rowsRead: (u.sqlRowsRead + u.d1RowsRead) / n,
    rowsWritten: (u.sqlRowsWritten + u.d1RowsWritten + u.alarmsSet) / n,
    doRequests: (p.upgrades + p.frames / P.DO_WS_MESSAGES_PER_REQUEST + u.alarmsRun) / n,
    workerRequests: p.upgrades / n,
    activeS: p.latencyS / n,
    cpuS: p.cpuS / n,
  }
}

/** Dollars per million events of billed units per event. */
export const usdPerMillion = (x) =>
  1e6 *
  (x.rowsRead * P.ROW_READ_USD +
    x.rowsWritten * P.ROW_WRITTEN_USD +
    x.doRequests * P.DO_REQUEST_USD +
    x.workerRequests * P.WORKER_REQUEST_USD +
    x.activeS * P.DO_MEMORY_GB * P.DO_GB_S_USD)

const HOURS_PER_MONTH = 730
const PINGS_PER_HOUR = 360 // the published client's Ping every 10 s

/**
 * Dollars per month for 1,000 connected clients doing nothing, `perStore` clients per store: their
 * pings (billed messages, 20:1), and the duration of objects that cannot hibernate (`evicted` false:
 * the object stays active all month).
 */
export const idleUsdPerThousandClients = ({ evicted }, perStore) => {
  const clients = 1000
  const requests = (clients * PINGS_PER_HOUR * HOURS_PER_MONTH) / P.DO_WS_MESSAGES_PER_REQUEST
  const activeS = evicted ? 0 : (clients / perStore) * HOURS_PER_MONTH * 3600
  return { requests: requests * P.DO_REQUEST_USD, duration: activeS * P.DO_MEMORY_GB * P.DO_GB_S_USD }
}

/**
 * App profiles (defined here, in the shape the push1 workload measures: every event is delivered
 * to its pusher's live pull and one other client):
 *   small: 10 stores × 2 clients, 100,000 events a month, clients connected 8 h a day
 *   busy:  1,000 stores × 2 clients, 30 million events a month, clients connected around the clock
 */
export const PROFILES = {
  small: { stores: 10, clientsPerStore: 2, eventsPerMonth: 100_000, connectedHoursPerDay: 8 },
  busy: { stores: 1_000, clientsPerStore: 2, eventsPerMonth: 30_000_000, connectedHoursPerDay: 24 },
}

/** Dollars a month for a profile: its events at the push1 cost, its connected hours at the idle cost. */
export const profileUsd = (profile, push1Units, idleResult) => {
  const events = (profile.eventsPerMonth / 1e6) * usdPerMillion(push1Units)
  const clients = profile.stores * profile.clientsPerStore
  const share = profile.connectedHoursPerDay / 24
  const idle = idleUsdPerThousandClients(idleResult, profile.clientsPerStore)
  return events + (clients / 1000) * share * (idle.requests + idle.duration)
}

const fmt = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }))

/** The cost table: one column per server kind measured (`costs[kind]` = measureCost's result). */
export const renderCost = (costs, labels) => {
  const kinds = Object.keys(costs)
  const rows = []
  const add = (label, f) => rows.push([label, ...kinds.map((k) => f(costs[k], k))])
  const scenarios = [
    ['push1', 'single-event pushes (300), each delivered to the pusher and one other client'],
    ['push100', 'pushes of 100 events (2,000), same shape'],
    ['pull', 'cold pull of 2,000 events by a new socket'],
  ]
  for (const [key, title] of scenarios) {
    rows.push([title])
    const u = (c) => (c[key] ? unitsPerEvent(c[key]) : undefined)
    add('  rows read per event', (c) => fmt(u(c)?.rowsRead, 3))
    add('  rows written per event', (c) => fmt(u(c)?.rowsWritten, 3))
    add('  billed DO requests per event', (c) => fmt(u(c)?.doRequests, 4))
    add('  DO active ms per event (estimate)', (c) => fmt(u(c) && u(c).activeS * 1000, 3))
    add('  $ per million events', (c) => (u(c) ? `$${fmt(usdPerMillion(u(c)), 2)}` : '-'))
  }
  rows.push(['idle: a connected client, no traffic'])
  add('  object evicted within 12 s', (c) => (c.idle ? (c.idle.evicted ? 'yes' : 'no') : '-'))
  add('  rows written while idle', (c) => fmt(c.idle && c.idle.idleUsage.sqlRowsWritten + c.idle.idleUsage.d1RowsWritten + c.idle.idleUsage.alarmsSet, 0))
  add('  $ per 1,000 clients a month, 10 per store', (c) => {
    if (!c.idle) return '-'
    const x = idleUsdPerThousandClients(c.idle, 10)
    return `$${fmt(x.requests + x.duration, 2)} (pings $${fmt(x.requests, 2)})`
  })
  rows.push(['app profiles a month (marginal, no inclusions)'])
  for (const [name, p] of Object.entries(PROFILES)) {
    add(`  ${name}: ${p.stores} stores × ${p.clientsPerStore}, ${p.eventsPerMonth.toLocaleString('en-US')} events, ${p.connectedHoursPerDay} h/day`, (c) =>
      c.push1 && c.idle ? `$${fmt(profileUsd(p, unitsPerEvent(c.push1), c.idle), 2)}` : '-',
    )
  }
  const header = ['cost (Cloudflare billed units)', ...kinds.map((k) => labels[k] ?? k)]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r) => r.map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[0]) : (c ?? '').padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => (r.length === 1 ? r[0] : line(r)))]
}
