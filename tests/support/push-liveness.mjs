// The push-liveness scenario of issue 11, shared by the stress script (scripts/stress-push-liveness.mjs)
// and one e2e run (tests/e2e/20-push-liveness.test.mjs).
//
// Eight published WebSocket clients (makeWsSync, this one Node process) each push batches of 1–4
// events in a loop; on ServerAheadError a writer waits until its own live pull has delivered up to
// the server's head, rebases its pending events onto it and pushes again (what LiveStore's leader
// does, PROTOCOL.md §9.2). A ninth client only live-pulls. Every frame each client's socket sends and
// receives is recorded, so a push that gets no answer comes with the exact frames of its socket.
//
// Nothing here is timed as an assertion: a push is "unanswered" when no Exit reached the client
// within `hangMs` (default 30 s, far above any real round trip), and a writer is "stalled" when
// its live pull did not deliver the head it was told about within `hangMs`.
import { KeyValueStore } from '@effect/platform'
import { makeWsSync } from '@livestore/sync-cf/client'
import { Effect, Exit, Option, Scope, Stream } from 'effect'
import { WebSocket as WsWebSocket } from 'ws'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** The largest batch a writer pushes (1 to MAX_BATCH events). */
export const MAX_BATCH = 4

// ---------------------------------------------------------------------------------------------
// Frame recording: a WebSocket class that logs what the published client sends and receives
// ---------------------------------------------------------------------------------------------

/**
 * Installs a recording WebSocket as `globalThis.WebSocket` (the published client constructs its
 * sockets from there) and returns {sockets, restore}. Each socket gets {url, tag, frames:[{t, dir,
 * text}]} where `tag` is the `tag` field of the client's sync payload (so a socket can be tied to
 * its client) and `dir` is 'out' (client → server), 'in', 'open', 'close-call' (the client
 * called close()) or 'close' (the socket closed).
 */
export const recordFrames = () => {
  const Base = globalThis.WebSocket ?? WsWebSocket
  const sockets = []
  const t0 = Date.now()
  class RecordingWebSocket extends Base {
    constructor(url, protocols) {
      super(url, protocols)
      const rec = { url: String(url), tag: tagOf(String(url)), frames: [] }
      sockets.push(rec)
      this._rec = rec
      const log = (dir, text) => rec.frames.push({ t: Date.now() - t0, dir, text })
      this.addEventListener('open', () => log('open', ''))
      this.addEventListener('message', (e) => log('in', typeof e.data === 'string' ? e.data : `<binary ${e.data?.byteLength ?? '?'}>`))
      this.addEventListener('close', (e) => log('close', `${e.code} ${e.reason}`))
    }
    send(data) {
      this._rec.frames.push({ t: Date.now() - t0, dir: 'out', text: typeof data === 'string' ? data : `<binary ${data?.byteLength ?? '?'}>` })
      return super.send(data)
    }
    close(code, reason) {
      this._rec.frames.push({ t: Date.now() - t0, dir: 'close-call', text: `${code ?? ''} ${reason ?? ''}`.trim() })
      return super.close(code, reason)
    }
  }
  const previous = globalThis.WebSocket
  globalThis.WebSocket = RecordingWebSocket
  return {
    sockets,
    restore: () => {
      globalThis.WebSocket = previous
    },
  }
}

/** The `tag` field of the (doubly encoded) sync payload in a client URL. */
const tagOf = (url) => {
  try {
    const payload = new URL(url).searchParams.get('payload')
    return payload ? JSON.parse(decodeURIComponent(payload)).tag : undefined
  } catch {
    return undefined
  }
}

/** JSON.parse that returns undefined instead of throwing. */
const parse = (text) => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

/** A cursor for the published client's pull: after `seqNum` (0 = from the start). */
const cursorAfter = (seqNum) => (seqNum > 0 ? Option.some({ eventSequenceNumber: seqNum, metadata: Option.none() }) : Option.none())

/**
 * A published client with its own in-memory KeyValueStore (where it keeps the backendId) and a
 * live pull that, like LiveStore's leader (PROTOCOL.md §9.2), starts again from where it was when
 * it fails (IsOfflineError after the socket was closed).
 */
const makeClient = async ({ url, storeId, tag }) => {
  const scope = Effect.runSync(Scope.make())
  const backend = await Effect.runPromise(
    makeWsSync({ url })({ storeId, clientId: tag, payload: { tag } }).pipe(Effect.provide(KeyValueStore.layerMemory), Scope.extend(scope)),
  )
  const items = []
  let closed = false
  let pullRestarts = 0
  const liveHead = () => items.at(-1)?.batch.at(-1)?.eventEncoded.seqNum ?? 0
  const pullLoop = async () => {
    while (!closed) {
      const exit = await Effect.runPromiseExit(
        Stream.runForEach(backend.pull(cursorAfter(liveHead()), { live: true }), (item) => Effect.sync(() => items.push(item))).pipe(
          Scope.extend(scope),
        ),
      )
      if (closed || Exit.isInterrupted(exit)) return
      pullRestarts++
      await sleep(50)
    }
  }
  const pulling = pullLoop()
  return {
    tag,
    backend,
    items,
    /** The last seqNum the live pull delivered (the upstream head as this client knows it). */
    liveHead,
    liveEvents: () => items.flatMap((i) => i.batch.map((b) => b.eventEncoded)),
    pullRestarts: () => pullRestarts,
    close: async () => {
      closed = true
      await Effect.runPromise(Scope.close(scope, Exit.void)).catch(() => {})
      await pulling
    },
  }
}

/** The typed error of a failed Exit (searching Sequential/Parallel causes), or undefined. */
const failureOf = (exit) => {
  const walk = (c) => (!c ? undefined : c._tag === 'Fail' ? c.error : walk(c.left) ?? walk(c.right))
  return Exit.isFailure(exit) ? walk(exit.cause) : undefined
}

/**
 * What the recording shows about one push: the Request frame the client sent for it (matched by
 * its first event, on any socket of that client), and every frame of that socket with the same
 * request id, plus the socket's opening, closing and Pings/Pongs.
 */
const framesOfPush = (sockets, batch) => {
  const first = batch[0]
  for (const socket of sockets) {
    const request = socket.frames.find((f) => {
      if (f.dir !== 'out') return false
      const m = parse(f.text)
      const e = m?.payload?.batch?.[0]
      return m?._tag === 'Request' && m.tag === 'SyncWsRpc.Push' && e?.seqNum === first.seqNum && e?.args?.id === first.args.id
    })
    if (!request) continue
    const requestId = parse(request.text).id
    const frames = socket.frames.filter((f) => {
      const m = parse(f.text)
      return f === request || m?.requestId === requestId || ['open', 'close-call', 'close'].includes(f.dir) || ['Ping', 'Pong', 'Defect'].includes(m?._tag)
    })
    return { requestId, sent: true, frames: frames.filter((f) => f.t >= request.t - 15_000) }
  }
  return { requestId: undefined, sent: false, frames: [] }
}

/**
 * Runs the scenario once against `url` (a running sync server) on a fresh store and returns what
 * happened. Never throws for a protocol failure: it reports it.
 *
 * @returns {Promise<{storeId, pushes, accepted, serverAhead, otherFailures, unanswered, stalled, events,
 *   storedUnacknowledged, converged, logIntact, sentinelDelivered, sockets}>}
 */
export const runPushLiveness = async ({
  url,
  storeId = `liveness-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  writers = 8,
  durationMs = 10_000,
  hangMs = 30_000,
  record = true,
} = {}) => {
  const recording = record ? recordFrames() : { sockets: [], restore: () => {} }
  const clients = []
  const report = {
    storeId,
    pushes: 0,
    accepted: 0,
    serverAhead: 0,
    otherFailures: [],
    retried: 0,
    pullRestarts: 0,
    closedByServer: 0,
    unanswered: [],
    stalled: [],
    events: 0,
    storedUnacknowledged: 0,
    converged: false,
    logIntact: false,
    sentinelDelivered: false,
  }
  try {
    for (let k = 0; k < writers; k++) clients.push(await makeClient({ url, storeId, tag: `w${k}` }))
    const reader = await makeClient({ url, storeId, tag: 'reader' })
    clients.push(reader)
    // every live pull has delivered its (empty) history before anyone writes
    for (const c of clients) {
      const deadline = Date.now() + hangMs
      while (c.items.length === 0 && Date.now() < deadline) await sleep(10)
    }

    const socketsOf = (tag) => recording.sockets.filter((s) => s.tag === tag)
    const end = Date.now() + durationMs
    const writerLoop = async (w, k) => {
      let n = 0
      let pending = [] // uids committed and not yet acknowledged, in commit order
      let head = 0
      while (Date.now() < end) {
        if (pending.length === 0) {
          const burst = 1 + Math.floor(Math.random() * MAX_BATCH)
          for (let i = 0; i < burst; i++) pending.push(`w${k}-e${n++}`)
        }
        head = Math.max(head, w.liveHead())
        const batch = pending.map((uid, i) => ({
          name: 'todoCreated-v1',
          args: { id: uid, writer: k },
          seqNum: head + i + 1,
          parentSeqNum: head + i,
          clientId: w.tag,
          sessionId: `${w.tag}-session`,
        }))
        report.pushes++
        const t = Date.now()
        let settled = false
        const answer = Effect.runPromiseExit(w.backend.push(batch)).then((exit) => {
          settled = true
          return exit
        })
        const watchdog = sleep(hangMs).then(() => 'hang')
        const exit = await Promise.race([answer, watchdog])
        if (exit === 'hang' && !settled) {
          report.unanswered.push({
            writer: w.tag,
            batch: batch.map((e) => `${e.parentSeqNum}→${e.seqNum}`),
            waitedMs: Date.now() - t,
            sockets: socketsOf(w.tag).length,
            ...framesOfPush(socketsOf(w.tag), batch),
          })
          return // this client is stuck: the app would be too
        }
        const err = failureOf(exit)
        if (Exit.isSuccess(exit)) {
          report.accepted++
          report.events += batch.length
          head = batch.at(-1).seqNum
          pending = []
          continue
        }
        if (err?._tag === 'IsOfflineError' || err?._tag === 'UnknownError') {
          // the socket was closed under the push: LiveStore retries it after a backoff (§9.2)
          report.retried++
          await sleep(1000)
          continue
        }
        if (err?._tag !== 'ServerAheadError') {
          report.otherFailures.push({ writer: w.tag, error: String(err?._tag ?? exit.cause) })
          return
        }
        report.serverAhead++
        // LiveStore parks the push until its live pull has delivered the missing events
        const deadline = Date.now() + hangMs
        while (w.liveHead() < err.minimumExpectedNum && Date.now() < deadline) await sleep(2)
        if (w.liveHead() < err.minimumExpectedNum) {
          report.stalled.push({ writer: w.tag, waitingFor: err.minimumExpectedNum, liveHead: w.liveHead() })
          return
        }
      }
    }
    await Promise.all(clients.slice(0, writers).map((w, k) => writerLoop(w, k)))

    // every live pull converges on the same log, which is one chain 1..N. The log can hold more
    // events than were acknowledged: a push stored just before its socket closed loses its answer,
    // and this writer (unlike LiveStore, which recognises its own events in the pull) pushes the
    // batch again on top. So wait for the longest live pull, not for the acknowledged count.
    const total = report.events
    const longest = () => Math.max(total, ...clients.map((c) => c.liveEvents().length))
    const deadline = Date.now() + hangMs
    while (clients.some((c) => c.liveEvents().length < longest()) && Date.now() < deadline) await sleep(20)
    // the sentinel: the reader pushes one more event on top of the converged log. Broadcasts leave
    // in log order, so once every live pull has it, a duplicate or extra delivery of an earlier
    // event has arrived before it (and makes that pull's sequence differ from the others)
    const head = longest()
    if (clients.every((c) => c.liveEvents().length === head)) {
      const sentinel = { name: 'todoCreated-v1', args: { id: 'sentinel', writer: -1 }, seqNum: head + 1, parentSeqNum: head, clientId: reader.tag, sessionId: `${reader.tag}-session` }
      const exit = await Effect.runPromiseExit(reader.backend.push([sentinel]).pipe(Effect.timeout(hangMs)))
      if (Exit.isSuccess(exit)) {
        const hasSentinel = (c) => c.liveEvents().some((e) => e.args?.id === 'sentinel')
        const until = Date.now() + hangMs
        while (!clients.every(hasSentinel) && Date.now() < until) await sleep(20)
        report.sentinelDelivered = clients.every(hasSentinel)
      } else {
        report.otherFailures.push({ writer: reader.tag, error: `the sentinel push failed: ${String(failureOf(exit)?._tag ?? exit.cause)}` })
      }
    }
    const reference = reader.liveEvents()
    report.storedUnacknowledged = reference.length - total - (report.sentinelDelivered ? 1 : 0)
    report.converged = clients.every((c) => JSON.stringify(c.liveEvents()) === JSON.stringify(reference)) && reference.length >= total
    report.logIntact = reference.every((e, i) => e.seqNum === i + 1 && e.parentSeqNum === i)
    return report
  } finally {
    report.pullRestarts = clients.reduce((n, c) => n + c.pullRestarts(), 0)
    report.closedByServer = recording.sockets.filter((s) => s.frames.some((f) => f.dir === 'close' && f.text.startsWith('4000 '))).length
    report.sockets = recording.sockets
    recording.restore()
    for (const c of clients) await c.close()
  }
}

/** A readable account of one unanswered push: its frames, relative times in ms. */
export const describeUnanswered = (u) =>
  [
    `writer ${u.writer}: push of ${u.batch.join(', ')} had no answer after ${u.waitedMs} ms ` +
      `(request ${u.sent ? `id ${JSON.stringify(u.requestId)} sent` : 'never sent by the client'}; the client opened ${u.sockets} sockets)`,
    ...u.frames.map((f) => `  ${String(f.t).padStart(7)} ms ${f.dir.padEnd(5)} ${f.text.slice(0, 240)}`),
  ].join('\n')
