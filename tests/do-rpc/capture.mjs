// Captures the DO-RPC wire format of the published @livestore/sync-cf@0.4.0 server (its tracing
// variant, tests/do-rpc/reference-trace) driven by the real @livestore/adapter-cloudflare@0.4.0
// client (tests/do-rpc/client-worker), by hand-made calls of rpc(bytes), and by the published
// makeWsSync client. Writes every DORPC trace line, tagged with its scenario, to
// tests/do-rpc/captures/ref-0.4.0.jsonl (plus the client's log lines about mailboxes and failed fibers,
// event "log") and prints a short summary. docs/do-rpc.md quotes it.
//
//   node_modules/node/bin/node tests/do-rpc/capture.mjs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { makeClient } from '../e2e/harness.mjs'
import { doRpcPing, doRpcPull, doRpcPush, startDoRpc } from '../support/do-rpc-client.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const OUT = path.join(here, 'captures/ref-0.4.0.jsonl')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const ev = (n, p = n - 1, extra = {}) => ({
  name: 'v1.TodoCreated',
  args: { id: `w${n}`, text: `from ws ${n}`, author: 'ws' },
  seqNum: n,
  parentSeqNum: p,
  clientId: 'ws-client',
  sessionId: 'ws-session',
  ...extra,
})

const records = []
const notes = []
let windows = [] // {name, start, end} of the scenarios of the current server
let logCursor = 0
const t0 = Date.now()

/**
 * Runs a scenario. Its trace lines are filed under it later by their timestamp (the log is written
 * with some delay, so its position is not reliable); the client's log lines by position (best effort).
 */
const scenario = async (rig, name, fn) => {
  const started = Date.now()
  let result
  try {
    result = await fn()
  } catch (e) {
    result = { error: String(e?.message ?? e) }
  }
  await sleep(500) // late trace lines (callbacks after the ack)
  windows.push({ name, start: started, end: Date.now() })
  const logLines = readFileSync(rig.server.logFile, 'utf8')
    .split('\n')
    .filter((l) => /No mailbox found|Fiber terminated with an unhandled error|waiting for interupt|Broadcasted to/.test(l))
  for (const l of logLines.slice(logCursor)) records.push({ scenario: name, event: 'log', line: l.slice(0, 300) })
  logCursor = logLines.length
  notes.push({ scenario: name, ms: Date.now() - started, result })
  console.log(`-- ${name} (${Date.now() - started} ms): ${JSON.stringify(result).slice(0, 400)}`)
  return result
}

/** Files every trace line of `rig` under the scenario whose time window holds it. */
const collect = async (rig) => {
  await sleep(1000)
  for (const l of rig.traceLines()) {
    // keep the file small: long dumps (the 250-event paging scenario) keep their first 512 bytes
    if (typeof l.hex === 'string' && l.hex.length > 4096) {
      l.hexHead = l.hex.slice(0, 1024)
      delete l.hex
    }
    const w = windows.find((x) => l.t >= x.start && l.t <= x.end) ?? windows.findLast((x) => l.t >= x.start)
    records.push({ scenario: w?.name ?? '(between scenarios)', ...l })
  }
  windows = []
  logCursor = 0
}

const brief = (s) => ({ instanceId: s.instanceId, booted: s.booted, updates: s.updates?.map((u) => `${u.requestId}:[${u.seqNums}]`) })

const rig = await startDoRpc({ kind: 'ref', trace: true, tag: 'capture' })
console.log(`server + client harness up in ${Date.now() - t0} ms (${rig.url})`)
try {
  const S = `capture-${Date.now().toString(36)}`
  const A = rig.client(S, 'A')
  const B = rig.client(S, 'B')
  const ws = await makeClient({ url: rig.url, storeId: S, clientId: 'ws-client' })
  try {
    await scenario(rig, 'A boots: live pull over DO-RPC (empty store)', async () => brief(await A.boot()))
    await scenario(rig, 'A commits one todo: push, then syncUpdateRpc to A', async () => {
      await A.commit('a1', 'first todo')
      await sleep(1000)
      return brief(await A.status())
    })
    await scenario(rig, 'WS client pushes 2 events: syncUpdateRpc to A', async () => {
      await ws.collectPull()
      await ws.push([ev(2), ev(3)])
      await sleep(1000)
      return { a: brief(await A.status()), todos: (await A.todos()).todos.map((t) => t.id) }
    })
    await scenario(rig, 'B boots: second subscriber on the same store', async () => brief(await B.boot()))
    await scenario(rig, 'WS client pushes 1 event: who is called back', async () => {
      await ws.push([ev(4)])
      await sleep(1000)
      return { a: brief(await A.status()), b: brief(await B.status()) }
    })
    await scenario(rig, 'raw: Ping', () => rig.rawRpc(S, { messages: [doRpcPing({ storeId: S, payload: { authToken: 't' } })] }))
    await scenario(rig, 'raw: two Pings in one call', () =>
      rig.rawRpc(S, { messages: [doRpcPing({ storeId: S }), doRpcPing({ storeId: S })] }),
    )
    await scenario(rig, 'raw: Push with a stale parent (ServerAheadError)', () =>
      rig.rawRpc(S, { messages: [doRpcPush({ storeId: S, batch: [ev(2)] })] }),
    )
    await scenario(rig, 'raw: Pull with a wrong backendId', () =>
      rig.rawRpc(S, { messages: [doRpcPull({ storeId: S, cursor: 1, backendId: 'not-the-backend-id' })] }),
    )
    const backendId = await ws.storedBackendId()
    await scenario(rig, 'raw: Pull from cursor 2 (non-live)', () => rig.rawRpc(S, { messages: [doRpcPull({ storeId: S, cursor: 2, backendId })] }))
    await scenario(rig, 'raw: Pull from cursor 2 without backendId in the cursor', () =>
      rig.rawRpc(S, { messages: [doRpcPull({ storeId: S, cursor: 2, backendId: undefined })] }),
    )
    await scenario(rig, 'C boots with livePull: false (the adapter default): non-live pull', async () => {
      const C = rig.client(S, 'C')
      return brief(await C.boot({ live: false }))
    })
    await scenario(rig, 'raw: Push with a batch that is not an array', () =>
      rig.rawRpc(S, { messages: [doRpcPush({ storeId: S, batch: 'not an array' })] }),
    )
    await scenario(rig, 'raw: Push with an event without name', () =>
      rig.rawRpc(S, { messages: [doRpcPush({ storeId: S, batch: [{ ...ev(5, 4), name: undefined }] })] }),
    )
    await scenario(rig, 'raw: Push of an event without args and with an unknown field, then a Pull', async () => {
      const P0 = `${S}-loose`
      const push = await rig.rawRpc(P0, {
        messages: [doRpcPush({ storeId: P0, batch: [{ ...ev(1, 0), args: undefined }, { ...ev(2, 1), extra: 'dropped?' }] })],
      })
      const pull = await rig.rawRpc(P0, { messages: [doRpcPull({ storeId: P0 })] })
      return { push: push.decoded, stored: pull.values.flat(1).filter((m) => m._tag === 'Chunk').flatMap((m) => m.values[0].batch.map((b) => b.eventEncoded)) }
    })
    await scenario(rig, 'a probe object without a store subscribes; a push calls it back (no mailbox)', async () => {
      const probe = rig.client(S, 'probe')
      const callerContext = await probe.callerContext()
      await rig.rawRpc(S, { messages: [doRpcPull({ storeId: S, callerContext })] })
      const w = await makeClient({ url: rig.url, storeId: S, clientId: 'ws-client' })
      try {
        await w.collectPull()
        await w.push([ev(5)])
      } finally {
        await w.close()
      }
      await sleep(1000)
      return { probe: brief(await probe.status()) }
    })
    await scenario(rig, 'raw: unknown tag', () => rig.rawRpc(S, { messages: [{ ...doRpcPing({ storeId: S }), tag: 'SyncDoRpc.Nope' }] }))
    await scenario(rig, 'raw: bytes that are not a request (0x01)', () => rig.rawRpc(S, { hex: '01' }))
    await scenario(rig, 'raw: empty request list', () => rig.rawRpc(S, { messages: [] }))

    const P = `${S}-pages`
    await scenario(rig, 'raw: 250 events pushed, non-live pull from the start (paging, stream reads)', async () => {
      for (let k = 0; k < 5; k++) {
        const batch = Array.from({ length: 50 }, (_, i) => ev(50 * k + i + 1))
        await rig.rawRpc(P, { messages: [doRpcPush({ storeId: P, batch })] })
      }
      const r = await rig.rawRpc(P, { messages: [doRpcPull({ storeId: P })], readMs: 10_000 })
      return {
        reads: r.reads.map((x) => x.bytes),
        messages: r.values.flat(1).map((m) => (m._tag === 'Chunk' ? `Chunk(${m.values[0].batch.length}, ${JSON.stringify(m.values[0].pageInfo)})` : `Exit ${m.exit._tag}`)),
      }
    })

    await scenario(rig, `idle ${14} s: the sync DO is evicted, then the WS client pushes`, async () => {
      const before = rig.traceLines().filter((l) => l.event === 'construct').length
      await ws.close()
      await sleep(14_000)
      const ws2 = await makeClient({ url: rig.url, storeId: S, clientId: 'ws-client' })
      try {
        await ws2.collectPull()
        await ws2.push([ev(6)])
        await sleep(1500)
      } finally {
        await ws2.close()
      }
      return {
        syncDoConstructedAgain: rig.traceLines().filter((l) => l.event === 'construct').length > before,
        a: brief(await A.status()),
        b: brief(await B.status()),
        probe: brief(await rig.client(S, 'probe').status()),
      }
    })
  } finally {
    await ws.close()
  }
  await collect(rig)
} finally {
  await rig.stop()
}

// the sync DO without the reverse binding: what a push does when the callback cannot be made
const rig2 = await startDoRpc({ kind: 'ref', trace: true, tag: 'capture', reverseBinding: false })
try {
  const S = `capture-nobinding-${Date.now().toString(36)}`
  const A = rig2.client(S, 'A')
  await scenario(rig2, 'no reverse binding: A boots and commits', async () => {
    await A.boot()
    await A.commit('a1')
    await sleep(1500)
    return { a: brief(await A.status()), todos: (await A.todos()).syncStatus }
  })
  await collect(rig2)
} finally {
  await rig2.stop()
}

mkdirSync(path.dirname(OUT), { recursive: true })
// by scenario, then by time (the client's log lines, which carry no timestamp, last)
const order = new Map(notes.map((n, i) => [n.scenario, i]))
records.sort((a, b) => (order.get(a.scenario) ?? -1) - (order.get(b.scenario) ?? -1) || (a.t ?? Infinity) - (b.t ?? Infinity))
writeFileSync(OUT, `${[...records, ...notes.map((n) => ({ scenario: n.scenario, event: 'scenario.result', ms: n.ms, result: n.result }))].map((r) => JSON.stringify(r)).join('\n')}\n`)
console.log(`wrote ${records.length} trace lines to ${path.relative(process.cwd(), OUT)} in ${Math.round((Date.now() - t0) / 1000)} s`)
