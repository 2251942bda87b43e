// Shared helpers for the end-to-end suite: start/stop a sync server under `wrangler dev`
// (ours = the Rust worker, ref = the published @livestore/sync-cf@0.4.0), drive it with the real
// published client (makeWsSync) or with raw WebSocket frames.
import { after, before } from 'node:test'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { KeyValueStore, FetchHttpClient } from '@effect/platform'
import { makeHttpSync, makeWsSync } from '@livestore/sync-cf/client'
import { Chunk, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from 'effect'
import { WebSocket as WsWebSocket } from 'ws'

import { sleep, waitFor } from '../support/wait.mjs'
import { QUIET_ENV, freePort, startServer as startWranglerDev } from '../support/wrangler-dev.mjs'

export { Chunk, Effect, Exit, Fiber, Option, Stream }

// The published client uses globalThis.WebSocket (Node 22 has one built in; Node 20 does not).
globalThis.WebSocket ??= WsWebSocket

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const REF_DIR = path.join(REPO, 'tests/reference')

/**
 * Where the servers keep event logs: 'do-sqlite' (default) or 'd1' (E2E_STORAGE=d1: ours with
 * STORAGE=d1 and a local D1 database, the reference with its D1 option). The whole suite runs
 * against both.
 */
export const STORAGE = process.env.E2E_STORAGE === 'd1' ? 'd1' : 'do-sqlite'
if (process.env.E2E_STORAGE && !['do-sqlite', 'd1'].includes(process.env.E2E_STORAGE)) {
  throw new Error(`E2E_STORAGE must be 'do-sqlite' or 'd1', got ${JSON.stringify(process.env.E2E_STORAGE)}`)
}

/** Which server the generic tests run against: 'ours' (default) or 'ref'. */
export const TARGET = process.env.E2E_TARGET === 'ref' ? 'ref' : 'ours'
if (process.env.E2E_TARGET && !['ours', 'ref'].includes(process.env.E2E_TARGET)) {
  throw new Error(`E2E_TARGET must be 'ours' or 'ref', got ${JSON.stringify(process.env.E2E_TARGET)}`)
}

/**
 * Skip reason for tests that assert a place where our server deliberately does better than the
 * reference (undefined when running against ours). Use as `test(name, { skip: oursOnly('why') }, fn)`.
 * E2E_FORCE_OURS_ONLY=1 runs them against the reference anyway (to see them fail there).
 */
export const oursOnly = (why) =>
  TARGET === 'ref' && !process.env.E2E_FORCE_OURS_ONLY ? `ours-only: the reference server ${why}` : undefined

export { sleep, waitFor }

/** Fresh storeId per test: only [A-Za-z0-9_-], so it is also a valid LiveStore storeId. */
export const freshStoreId = (label = 'store') => `e2e-${label}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`

/** A LiveStore-shaped global event. */
export const ev = (seqNum, parentSeqNum = seqNum - 1, extra = {}) => ({
  name: 'todoCreated-v1',
  args: { id: `todo-${seqNum}`, text: `Todo number ${seqNum}` },
  seqNum,
  parentSeqNum,
  clientId: 'client-A',
  sessionId: 'session-A1',
  ...extra,
})

/** Events from..to (inclusive), contiguous chain. */
export const evRange = (from, to, extra) => Array.from({ length: to - from + 1 }, (_, i) => ev(from + i, from + i - 1, extra))

export const BACKEND_ID_RE = /^[A-Za-z0-9_-]{21}$/
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

// ---------------------------------------------------------------------------------------------
// Server processes (the process handling itself is shared with the benchmark)
// ---------------------------------------------------------------------------------------------

export { QUIET_ENV, freePort }

/** Worker vars always passed to a server kind (merged under the `env` argument of startServer). */
export const DEFAULT_VARS = {
  // our server requires a JWT by default (AUTH_MODE=jwt); the protocol tests run with auth off.
  // A socket that carries no request is closed after 3 s (10 s by default), so that a published
  // client that reconnected without its requests (see src/sync/closing.rs) recovers quickly.
  // LOG_LEVEL=debug writes a line per push, which the eviction proofs read.
  ours: { AUTH_MODE: 'none', FIRST_REQUEST_TIMEOUT_SECONDS: '3', LOG_LEVEL: 'debug' },
  ref: {},
}

/**
 * Starts a sync server under `wrangler dev` and waits until `GET /` answers 200 (see
 * tests/support/wrangler-dev.mjs). Logs are kept with E2E_KEEP_LOGS=1.
 *
 * @param {object} o
 * @param {'ours'|'ref'} [o.kind] defaults to E2E_TARGET
 * @param {number} [o.port] defaults to a free port
 * @param {string} [o.persistTo] --persist-to folder; defaults to a fresh temp folder (removed on stop)
 * @param {Record<string,string>} [o.env] worker vars, passed as `--var KEY:VALUE`
 * @param {'do-sqlite'|'d1'} [o.storage] defaults to E2E_STORAGE
 * @returns {Promise<{url:string, wsUrl:string, port:number, persistTo:string, pid:number, kind:string, logFile:string, stop:(o?: {signal?: NodeJS.Signals}) => Promise<void>}>}
 */
export const startServer = ({ kind = TARGET, port, persistTo, env = {}, storage = STORAGE } = {}) =>
  startWranglerDev({
    kind,
    port,
    persistTo,
    env: { ...DEFAULT_VARS[kind], ...(kind === 'ours' && storage === 'd1' ? { STORAGE: 'd1' } : {}), ...env },
    keepLogs: Boolean(process.env.E2E_KEEP_LOGS),
    tag: 'e2e',
    d1: storage === 'd1',
  })

// ---------------------------------------------------------------------------------------------
// Published client (makeWsSync / makeHttpSync) with its own in-memory KeyValueStore
// ---------------------------------------------------------------------------------------------

/**
 * Instantiates a published client: makeWsSync (`transport: 'ws'`, the default) or makeHttpSync
 * (`transport: 'http'`; `options` then takes its `headers`, `livePull.pollInterval`, `ping`).
 * The KeyValueStore is where the client keeps the backendId it learned from the first
 * PullResponse; `kv` pre-seeds it (e.g. a stale backendId).
 */
export const makeClient = async ({
  url,
  storeId,
  clientId = 'client-A',
  payload,
  kv = {},
  options = {},
  timeoutMs = 60_000,
  transport = 'ws',
}) => {
  if (transport !== 'ws' && transport !== 'http') throw new Error(`unknown client transport ${transport}`)
  const makeSync = transport === 'http' ? makeHttpSync : makeWsSync
  const scope = Effect.runSync(Scope.make())
  let kvStore
  const kvLayer = Layer.effect(
    KeyValueStore.KeyValueStore,
    Effect.gen(function* () {
      const store = yield* KeyValueStore.KeyValueStore
      for (const [k, v] of Object.entries(kv)) yield* store.set(k, v)
      kvStore = store
      return store
    }),
  ).pipe(Layer.provide(KeyValueStore.layerMemory))
  const backend = await Effect.runPromise(
    makeSync({ url, ...options })({ storeId, clientId, payload }).pipe(
      Effect.provide(kvLayer),
      Effect.provide(FetchHttpClient.layer),
      Scope.extend(scope),
    ),
  )
  // the published client retries a refused upgrade forever and never fails the request (PROTOCOL 9.1),
  // so every operation gets a deadline that turns a hang into a readable failure
  const deadline = (eff) =>
    eff.pipe(
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () => new Error(`published client: no answer within ${timeoutMs} ms (storeId ${storeId})`),
      }),
    )
  const run = (eff) => Effect.runPromise(deadline(eff).pipe(Scope.extend(scope)))
  const runExit = (eff) => Effect.runPromiseExit(deadline(eff).pipe(Scope.extend(scope)))
  const cursorOf = (seq) =>
    seq === undefined || seq === null ? Option.none() : Option.some({ eventSequenceNumber: seq, metadata: Option.none() })
  let closed = false
  return {
    backend,
    run,
    runExit,
    /** Current value of the client's isConnected SubscriptionRef. */
    isConnected: () => Effect.runPromise(backend.isConnected.get),
    /** backendId the client has stored (undefined if none). */
    storedBackendId: () =>
      Effect.runPromise(kvStore.get('backendId')).then((o) => (Option.isSome(o) ? o.value : undefined)),
    /** Non-live pull from `cursor` (a seqNum, or undefined for None): all PullResItems. */
    collectPull: (cursor) =>
      run(Stream.runCollect(backend.pull(cursorOf(cursor), { live: false })).pipe(Effect.map(Chunk.toArray))),
    collectPullExit: (cursor) =>
      runExit(Stream.runCollect(backend.pull(cursorOf(cursor), { live: false })).pipe(Effect.map(Chunk.toArray))),
    /**
     * Starts a live pull; every PullResItem goes into `items`. `stop()` interrupts it.
     * `waitForEvents(n)` resolves with the first n events received (rejects on timeout).
     */
    livePull: (cursor) => {
      const items = []
      const waiters = new Set()
      const events = () => items.flatMap((i) => i.batch)
      let restarts = 0
      // Like LiveStore's leader (PROTOCOL.md 9.2): when the pull fails with IsOfflineError (its
      // socket was closed), pull again from the last event received.
      const pullFrom = (from) =>
        Stream.runForEach(backend.pull(cursorOf(from), { live: true }), (item) =>
          Effect.sync(() => {
            items.push(item)
            for (const w of [...waiters]) w()
          }),
        ).pipe(
          Effect.catchTag('IsOfflineError', () =>
            Effect.suspend(() => {
              restarts++
              return pullFrom(events().at(-1)?.eventEncoded.seqNum ?? from)
            }).pipe(Effect.delay('50 millis')),
          ),
        )
      const fiber = Effect.runFork(pullFrom(cursor).pipe(Scope.extend(scope)))
      return {
        items,
        fiber,
        events,
        /** How often the pull was started again after its socket closed. */
        restarts: () => restarts,
        waitForEvents: (n, timeoutMs = 10_000) =>
          new Promise((resolve, reject) => {
            const check = () => {
              if (events().length >= n) {
                waiters.delete(check)
                clearTimeout(timer)
                resolve(events().slice(0, n))
              }
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              reject(new Error(`live pull: expected ${n} events within ${timeoutMs} ms, got ${events().length}`))
            }, timeoutMs)
            waiters.add(check)
            check()
          }),
        stop: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined),
      }
    },
    push: (batch) => run(backend.push(batch)),
    pushExit: (batch) => runExit(backend.push(batch)),
    close: async () => {
      if (closed) return
      closed = true
      await Effect.runPromise(Scope.close(scope, Exit.void))
    },
  }
}

/** Waits until the client's isConnected is true (the client pings right after construction). */
export const waitConnected = (client, timeoutMs = 10_000) => waitFor('the client to be connected', () => client.isConnected(), timeoutMs)

/** The failure (typed error) of an Exit, or undefined. */
export const failureOf = (exit) => {
  if (!Exit.isFailure(exit)) return undefined
  const f = exit.cause
  const failures = [...(function* walk(c) {
    if (!c) return
    if (c._tag === 'Fail') yield c.error
    if (c.left) yield* walk(c.left)
    if (c.right) yield* walk(c.right)
  })(f)]
  return failures[0]
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket driver
// ---------------------------------------------------------------------------------------------

/** `?storeId=…&payload=…&transport=ws` encoded like the published client (payload double-encoded). */
export const syncQuery = ({ storeId, payload, transport = 'ws' }) => {
  const p = new URLSearchParams()
  p.set('storeId', storeId)
  if (payload !== undefined) p.set('payload', encodeURIComponent(JSON.stringify(payload)))
  p.set('transport', transport)
  return p.toString()
}

/**
 * Opens a raw WebSocket to the server. Every received text frame is kept in `messages`
 * ({text, json}); `next(pred)` waits for the first not-yet-consumed message matching pred.
 */
export const rawConnect = (server, { storeId, payload, headers } = {}) =>
  new Promise((resolve, reject) => {
    const ws = new WsWebSocket(`${server.wsUrl}/?${syncQuery({ storeId, payload })}`, { headers })
    const messages = []
    const waiters = new Set()
    let closeInfo
    ws.on('message', (data, isBinary) => {
      const text = data.toString('utf8')
      let json
      try {
        json = JSON.parse(text)
      } catch {}
      messages.push({ text, json, isBinary })
      for (const w of [...waiters]) w()
    })
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() }
      for (const w of [...waiters]) w()
    })
    ws.on('unexpected-response', (_req, res) => {
      const bufs = []
      res.on('data', (d) => bufs.push(d))
      res.on('end', () =>
        reject(
          Object.assign(new Error(`upgrade rejected: ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers, // lower-cased names (node http)
            body: Buffer.concat(bufs).toString(),
          }),
        ),
      )
    })
    ws.once('error', reject)
    ws.once('open', () => {
      ws.off('error', reject)
      ws.on('error', () => {})
      let cursor = 0 // messages before this index were consumed by next()
      const conn = {
        ws,
        messages,
        get closeInfo() {
          return closeInfo
        },
        sendRaw: (text) => ws.send(text),
        send: (obj) => ws.send(JSON.stringify(obj)),
        /** Waits for a message (json, or text if not JSON) matching pred among all received ones. */
        waitFor: (pred, timeoutMs = 10_000, what = 'message') =>
          new Promise((res, rej) => {
            const check = () => {
              const hit = messages.find((m) => pred(m.json ?? m.text, m))
              if (hit) {
                waiters.delete(check)
                clearTimeout(timer)
                res(hit.json ?? hit.text)
              } else if (closeInfo) {
                waiters.delete(check)
                clearTimeout(timer)
                rej(new Error(`socket closed (${closeInfo.code}) while waiting for ${what}`))
              }
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              rej(new Error(`timeout after ${timeoutMs} ms waiting for ${what}; received: ${messages.map((m) => m.text.slice(0, 300)).join('\n')}`))
            }, timeoutMs)
            waiters.add(check)
            check()
          }),
        /** Next message after the last one returned by next() that matches pred. */
        next: (pred = () => true, timeoutMs = 10_000, what = 'message') =>
          new Promise((res, rej) => {
            const check = () => {
              for (let i = cursor; i < messages.length; i++) {
                const m = messages[i]
                if (pred(m.json ?? m.text, m)) {
                  cursor = i + 1
                  waiters.delete(check)
                  clearTimeout(timer)
                  return res(m.json ?? m.text)
                }
              }
              if (closeInfo) {
                waiters.delete(check)
                clearTimeout(timer)
                rej(new Error(`socket closed (${closeInfo.code}) while waiting for ${what}`))
              }
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              rej(new Error(`timeout after ${timeoutMs} ms waiting for ${what}`))
            }, timeoutMs)
            waiters.add(check)
            check()
          }),
        close: () =>
          new Promise((r) => {
            if (ws.readyState === WsWebSocket.CLOSED) return r()
            // the reference never answers a close frame (PROTOCOL 3.7): don't wait for the echo long
            const t = setTimeout(() => {
              ws.terminate()
              r()
            }, 250)
            ws.once('close', () => {
              clearTimeout(t)
              r()
            })
            ws.close(1000, 'done')
          }),
      }
      resolve(conn)
    })
  })

/**
 * One raw HTTP-transport request: `POST <path>?storeId&payload&transport=http` with `body` (a string
 * is sent verbatim, anything else as JSON). Returns {status, headers, text, json} (json undefined if
 * the body is not JSON).
 */
export const rawHttp = async (server, { storeId, payload, body, headers = {}, method = 'POST', path = '/' }) => {
  const res = await fetch(`${server.url}${path}?${syncQuery({ storeId, payload, transport: 'http' })}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: method === 'GET' || method === 'HEAD' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: res.status, headers: res.headers, text, json }
}

let rawId = 1000
/** A fresh request id string ("1000", "1001", …) for raw requests. */
export const nextId = () => String(rawId++)

/** `payload`: the sync payload the message carries (the published client sends its own with every request). */
export const pullRequest = ({ id = nextId(), storeId, cursor, backendId, live = false, payload }) => ({
  _tag: 'Request',
  id,
  tag: 'SyncWsRpc.Pull',
  payload: {
    storeId,
    ...(payload !== undefined ? { payload } : {}),
    live,
    cursor: cursor === undefined ? { _tag: 'None' } : { _tag: 'Some', value: { backendId, eventSequenceNumber: cursor } },
  },
  headers: [],
})

/** `payload`: the sync payload the message carries (the published client sends its own with every request). */
export const pushRequest = ({ id = nextId(), storeId, batch, backendId, payload }) => ({
  _tag: 'Request',
  id,
  tag: 'SyncWsRpc.Push',
  payload: {
    storeId,
    ...(payload !== undefined ? { payload } : {}),
    batch,
    backendId: backendId === undefined ? { _tag: 'None' } : { _tag: 'Some', value: backendId },
  },
  headers: [],
})

/**
 * Raw non-live pull: sends the request, acks each Chunk, returns {responses, exit, frames}.
 * `responses` are the PullResponses (Chunk values) in order; `frames` the raw Chunk texts.
 */
export const rawCollectPull = async (conn, { storeId, cursor, backendId, timeoutMs = 20_000 }) => {
  const id = nextId()
  conn.send(pullRequest({ id, storeId, cursor, backendId }))
  const responses = []
  const frames = []
  while (true) {
    const msg = await conn.next(
      (m, raw) => typeof m === 'object' && m !== null && m.requestId === id && (m._tag === 'Chunk' || m._tag === 'Exit') && (frames.push(raw.text), true),
      timeoutMs,
      `Chunk/Exit of pull ${id}`,
    )
    if (msg._tag === 'Exit') {
      frames.pop()
      return { responses, exit: msg.exit, frames }
    }
    responses.push(...msg.values)
    conn.send({ _tag: 'Ack', requestId: id })
  }
}

/** Raw push: sends the request (with `payload` in the message, if given) and returns its Exit. */
export const rawPush = async (conn, { storeId, batch, backendId, payload, timeoutMs = 20_000 }) => {
  const id = nextId()
  conn.send(pushRequest({ id, storeId, batch, backendId, payload }))
  const msg = await conn.waitFor((m) => m?._tag === 'Exit' && m.requestId === id, timeoutMs, `Exit of push ${id}`)
  return msg.exit
}

/** The `error` of an encoded Exit with a Fail cause (searching Sequential/Parallel), or undefined. */
export const encodedFailure = (exit) => {
  const walk = (c) => {
    if (!c || typeof c !== 'object') return undefined
    if (c._tag === 'Fail') return c.error
    return walk(c.left) ?? walk(c.right)
  }
  return exit?._tag === 'Failure' ? walk(exit.cause) : undefined
}

/** Flattens PullResponses (raw or client items) into the list of events. */
export const eventsOf = (responses) => responses.flatMap((r) => r.batch.map((b) => b.eventEncoded))

/** The seqNums of PullResponses (raw or client items), in order. */
export const seqNumsOf = (responses) => eventsOf(responses).map((e) => e.seqNum)

/**
 * One server for the whole test file: started before its first test, stopped after its last.
 * Returns an object that becomes the started server (url, stop(), …) once `before` has run.
 */
export const useServer = (options) => {
  const server = {}
  before(async () => {
    Object.assign(server, await startServer(options))
  })
  after(async () => {
    await server.stop?.()
  })
  return server
}

// HTTP RPC request bodies (SyncHttpRpc, PROTOCOL.md §5.3). Ids only need to be unique per POST.
let httpId = 0
/** `SyncHttpRpc.Pull` from `cursor` (undefined = from the start). */
export const httpPull = (storeId, cursor, backendId) => ({
  _tag: 'Request',
  id: String(httpId++),
  tag: 'SyncHttpRpc.Pull',
  payload: {
    storeId,
    cursor: cursor === undefined ? { _tag: 'None' } : { _tag: 'Some', value: { backendId, eventSequenceNumber: cursor } },
  },
  headers: [],
})
export const httpPush = (storeId, batch, backendId) => ({
  _tag: 'Request',
  id: String(httpId++),
  tag: 'SyncHttpRpc.Push',
  payload: { storeId, batch, backendId: backendId === undefined ? { _tag: 'None' } : { _tag: 'Some', value: backendId } },
  headers: [],
})
export const httpPing = (storeId) => ({ _tag: 'Request', id: String(httpId++), tag: 'SyncHttpRpc.Ping', payload: { storeId }, headers: [] })

// ---------------------------------------------------------------------------------------------
// Our server's structured log lines (src/log.rs), read from the wrangler dev log file
// ---------------------------------------------------------------------------------------------

/**
 * Every JSON log line our server has written so far (other output is skipped). wrangler dev
 * decorates console.warn/error output (colours, a "WARNING" prefix), so the JSON object is taken
 * from within the line.
 */
export const serverLog = (server) =>
  readFileSync(server.logFile, 'utf8')
    .split('\n')
    .flatMap((l) => {
      const start = l.indexOf('{"level":')
      const end = l.lastIndexOf('}')
      if (start < 0 || end < start) return []
      try {
        return [JSON.parse(l.slice(start, end + 1))]
      } catch {
        return []
      }
    })

/** Waits (polling the log file) for a log line matching `pred`; rejects after `timeoutMs`. */
export const waitForLog = (server, pred, timeoutMs = 5_000, what = 'log line') =>
  waitFor(`${what} in the server log`, () => serverLog(server).find(pred), timeoutMs, { intervalMs: 50 })

/** The instance of our Durable Object that accepted the push to `storeId` that moved its head to `head`. */
export const instanceOfPush = async (server, storeId, head) =>
  (await waitForLog(server, (l) => l.event === 'push' && l.store === storeId && l.head === head, 5_000, `push to head ${head} of ${storeId}`)).instance

/**
 * Proves that the object of `storeId` was evicted between the push that moved its head to
 * `headBefore` and the one that moved it to `headAfter`: a fresh instance (another name in the
 * log) served the later one. Against the reference (no such log) it only says so.
 */
export const assertEvictedBetween = async (t, server, storeId, headBefore, headAfter) => {
  if (TARGET === 'ref') {
    t.diagnostic('eviction not confirmed: the reference server writes no instance log lines')
    return
  }
  const before = await instanceOfPush(server, storeId, headBefore)
  const afterwards = await instanceOfPush(server, storeId, headAfter)
  if (before === afterwards) {
    throw new Error(`the object of ${storeId} was not evicted: instance ${before} served the pushes before and after the idle period`)
  }
}
