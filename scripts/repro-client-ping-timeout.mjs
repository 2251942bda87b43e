// Minimal reproduction of the published client's silent reconnect (issue 11): idle published
// clients (`makeWsSync` from @livestore/sync-cf@0.4.0), each holding one live pull, as a LiveStore
// app at rest does. No pushes, no load. Now and then a client closes its own healthy socket a
// millisecond or two after sending a Ping, before the Pong could arrive (its ping schedule fired
// twice: the second tick takes the missing Pong for a dead server), reconnects, and does not send
// its live pull again — nor fail it. The live pull is dead from then on: an event pushed later
// never reaches that client. Runs against the reference server exactly like against ours.
//
//   node scripts/repro-client-ping-timeout.mjs [--target ref|ours|ours-unhealed|URL] [--clients 12] [--seconds 45]
//
// `ours-unhealed` runs our server with FIRST_REQUEST_TIMEOUT_SECONDS=0, i.e. without the server
// side mitigation (sync::closing): it shows the same client behaviour as the reference. `ours`
// closes such orphaned sockets after 10 s; the client's live pull then fails with IsOfflineError
// (which LiveStore answers by pulling again) instead of hanging silently.
import { parseArgs } from 'node:util'

import { KeyValueStore } from '@effect/platform'
import { makeWsSync } from '@livestore/sync-cf/client'
import { Effect, Exit, Option, Scope, Stream } from 'effect'
import { WebSocket as WsWebSocket } from 'ws'

import { recordFrames } from '../tests/support/push-liveness.mjs'
import { startServer } from '../tests/support/wrangler-dev.mjs'

globalThis.WebSocket ??= WsWebSocket
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const parse = (t) => {
  try {
    return JSON.parse(t)
  } catch {
    return undefined
  }
}

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string', default: 'ref' },
    clients: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '45' },
  },
})
const kinds = { ref: ['ref', {}], ours: ['ours', { AUTH_MODE: 'none' }], 'ours-unhealed': ['ours', { AUTH_MODE: 'none', FIRST_REQUEST_TIMEOUT_SECONDS: '0' }] }
const server = kinds[opts.target] ? await startServer({ kind: kinds[opts.target][0], env: kinds[opts.target][1], tag: 'repro' }) : undefined
const url = server?.url ?? opts.target
const storeId = `repro-ping-${Date.now().toString(36)}`
const recording = recordFrames()
const clients = []
try {
  for (let k = 0; k < Number(opts.clients); k++) {
    const scope = Effect.runSync(Scope.make())
    const tag = `c${k}`
    const backend = await Effect.runPromise(
      makeWsSync({ url })({ storeId, clientId: tag, payload: { tag } }).pipe(Effect.provide(KeyValueStore.layerMemory), Scope.extend(scope)),
    )
    const c = { tag, scope, events: [], pullEnded: undefined }
    Effect.runPromiseExit(
      Stream.runForEach(backend.pull(Option.none(), { live: true }), (item) => Effect.sync(() => c.events.push(...item.batch))).pipe(Scope.extend(scope)),
    ).then((exit) => (c.pullEnded = Exit.isFailure(exit) ? String(exit.cause).split('\n')[0] : 'ended'))
    clients.push(c)
  }
  console.log(`${clients.length} idle clients with a live pull on ${url}, store ${storeId}; waiting ${opts.seconds} s`)
  await sleep(Number(opts.seconds) * 1000)

  // one event from a fresh raw socket: every live pull should deliver it
  const probe = new WsWebSocket(`${url.replace(/^http/, 'ws')}/?storeId=${storeId}&transport=ws`)
  await new Promise((r, j) => (probe.once('open', r), probe.once('error', j)))
  probe.send(
    JSON.stringify({
      _tag: 'Request',
      id: '1',
      tag: 'SyncWsRpc.Push',
      payload: { storeId, batch: [{ name: 'probe-v1', args: {}, seqNum: 1, parentSeqNum: 0, clientId: 'probe', sessionId: 'probe' }], backendId: { _tag: 'None' } },
      headers: [],
    }),
  )
  await sleep(3000)
  probe.close()

  let silent = 0
  for (const c of clients) {
    const sockets = recording.sockets.filter((s) => s.tag === c.tag)
    const notes = []
    for (const s of sockets) {
      // the client's own close() call; the reference never answers a close frame, so the socket's
      // 'close' event may come much later (PROTOCOL.md §3.7)
      const close = s.frames.find((f) => f.dir === 'close-call') ?? s.frames.find((f) => f.dir === 'close')
      if (!close) continue
      const before = s.frames.filter((f) => f.t <= close.t && f.dir !== 'close')
      const lastPing = before.filter((f) => f.dir === 'out' && parse(f.text)?._tag === 'Ping').at(-1)
      const inAfterPing = lastPing ? before.filter((f) => f.dir === 'in' && f.t >= lastPing.t).length : 0
      notes.push(
        `${close.dir === 'close-call' ? 'client closed its socket' : 'socket closed'} (${close.text.trim() || 'no code'}) ${lastPing ? `${close.t - lastPing.t} ms after its Ping, ${inAfterPing} frames received since` : 'with no Ping'}`,
      )
    }
    const resent = sockets.slice(1).some((s) => s.frames.some((f) => f.dir === 'out' && parse(f.text)?._tag === 'Request'))
    const got = c.events.some((e) => e.eventEncoded.name === 'probe-v1')
    if (!got && !c.pullEnded) silent++
    console.log(
      `${c.tag}: ${sockets.length} socket(s); ${notes.join('; ') || 'never closed'}; requests re-sent after reconnect: ${resent ? 'yes' : 'no'}; ` +
        `live pull ${got ? 'delivered the probe event' : c.pullEnded ? `failed (${c.pullEnded})` : 'SILENT: never delivered the probe event, never failed'}`,
    )
  }
  console.log(`\n${silent} of ${clients.length} clients lost their live pull silently (target: ${opts.target})`)
} finally {
  recording.restore()
  for (const c of clients) await Effect.runPromise(Scope.close(c.scope, Exit.void)).catch(() => {})
  await server?.stop()
}
