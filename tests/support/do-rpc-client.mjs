// DO-RPC test rig: one `wrangler dev` process running two workers,
//
//   1. the client harness tests/do-rpc/client-worker (primary: served on the port), whose Durable
//      Objects run LiveStore stores with @livestore/adapter-cloudflare@0.4.0 syncing over DO-RPC, and
//   2. the sync server under test (ours = the Rust build, ref = the published @livestore/sync-cf@0.4.0,
//      or its tracing variant), started by the shared starter (wrangler-dev.mjs) with a reverse
//      binding CLIENT_DO → the harness's LiveStoreClientDO added to (a copy of) its config.
//
// Everything the harness does not handle itself (GET /, every sync request) it forwards to the server
// over a service binding, so `url` is also the sync server's URL for WS/HTTP clients.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { startServer } from './wrangler-dev.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CLIENT_CONFIG = path.join(REPO, 'tests/do-rpc/client-worker/wrangler.toml')
export const TRACE_CONFIG = path.join(REPO, 'tests/do-rpc/reference-trace/wrangler.toml')
export const CLIENT_WORKER_NAME = 'livestore-do-rpc-client'
export const CLIENT_BINDING = 'CLIENT_DO'
export const CLIENT_CLASS = 'LiveStoreClientDO'

/** Server kinds whose sync DO speaks DO-RPC: both (ours through its JS entry, js/entry.mjs). */
export const supportsDoRpc = (kind) => kind === 'ref' || kind === 'ours'

/** The reverse binding the server needs (the sync DO calls `env[bindingName]` in its own env). */
export const addClientBinding = (text) =>
  `${text.trimEnd()}

# added by tests/support/do-rpc-client.mjs: the DO-RPC client objects, for syncUpdateRpc callbacks
[[durable_objects.bindings]]
name = "${CLIENT_BINDING}"
class_name = "${CLIENT_CLASS}"
script_name = "${CLIENT_WORKER_NAME}"
`

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Starts server + client harness and waits until both answer.
 *
 * @param {object} o
 * @param {'ours'|'ref'} o.kind server under test
 * @param {boolean} [o.trace] ref only: the tracing variant (DORPC lines in the log, see traceLines())
 * @param {Record<string,string>} [o.env] server vars (put into the server's config)
 * @param {string} [o.persistTo] shared --persist-to folder (both workers' objects)
 * @param {boolean} [o.keepLogs]
 * @param {string} [o.tag]
 * @param {boolean} [o.reverseBinding] false: leave the CLIENT_DO binding out of the server's config
 *   (to see what a sync DO does when it cannot reach the client objects)
 * @param {string} [o.ourEntry] ours only: entry module instead of the config's `main` (js/entry.mjs)
 * @param {boolean} [o.d1] the server gets the local D1 database (ours also needs the var STORAGE=d1)
 */
export const startDoRpc = async ({
  kind,
  trace = false,
  env = {},
  persistTo,
  keepLogs = false,
  tag = 'dorpc',
  reverseBinding = true,
  ourEntry,
  d1 = false,
} = {}) => {
  if (trace && kind !== 'ref') throw new Error('the tracing variant exists for the reference only')
  const server = await startServer({
    kind,
    env,
    persistTo,
    keepLogs,
    tag,
    sourceConfig: trace ? TRACE_CONFIG : undefined,
    primaryConfigs: [CLIENT_CONFIG],
    patchServerConfig: reverseBinding ? addClientBinding : (text) => text,
    ourEntry: kind === 'ours' ? ourEntry : undefined,
    d1,
  })
  const { client, rawRpc } = doRpcHelpers(server.url)

  /** The DORPC lines of the tracing variant so far. */
  const traceLines = () =>
    readFileSync(server.logFile, 'utf8')
      .split('\n')
      .flatMap((l) => {
        const i = l.indexOf('DORPC {')
        if (i < 0) return []
        try {
          return [JSON.parse(l.slice(i + 6))]
        } catch {
          return []
        }
      })

  return { server, url: server.url, wsUrl: server.wsUrl, kind, client, rawRpc, traceLines, stop: (o) => server.stop(o) }
}

/**
 * The helpers of a running client harness at `base` (its primary worker's URL): `client(storeId,
 * name)`, the operations of one client object (a LiveStore store in a Durable Object), and
 * `rawRpc(storeId, …)`, one hand-made call of the sync DO's rpc(bytes). Also used by the
 * packed-package test (tests/package), whose app Workers are the sync server.
 */
export const doRpcHelpers = (base) => {
  const call = async (method, p, { query = {}, body } = {}) => {
    const qs = new URLSearchParams(query).toString()
    const res = await fetch(`${base}${p}${qs ? `?${qs}` : ''}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    })
    const text = await res.text()
    let json
    try {
      json = JSON.parse(text)
    } catch {}
    if (!res.ok) {
      throw Object.assign(new Error(`${method} ${p} ${JSON.stringify(query)} → ${res.status}: ${text.slice(0, 2000)}`), {
        status: res.status,
        json,
      })
    }
    return json
  }

  /** Helpers for the client object `name` of `storeId` (a LiveStore store in a Durable Object). */
  const client = (storeId, name) => {
    const q = { storeId, name }
    return {
      storeId,
      name,
      /** Opens the store (live pull unless `live: false`) unless this instance has it open. */
      boot: ({ live = true } = {}) => call('POST', '/client/boot', { query: live ? q : { ...q, live: 'false' } }),
      commit: (id, text = `todo ${id}`, author = name) => call('POST', '/client/commit', { query: q, body: { id, text, author } }),
      /** {instanceId, todos, syncStatus}; opens the store first if this instance has none. */
      todos: () => call('GET', '/client/todos', { query: q }),
      /** Does not open the store: {instanceId, booted, updates, allUpdates, syncStatus, …}. */
      status: () => call('GET', '/client/status', { query: q }),
      /** Forced eviction (ctx.abort()): the next request or callback gets a fresh instance. */
      evict: () => call('POST', '/client/evict', { query: q }),
      shutdown: () => call('POST', '/client/shutdown', { query: q }),
      /** From now on its syncUpdateRpc records the call, then throws (persisted). */
      failUpdates: () => call('POST', '/client/fail-updates', { query: q }),
      /** {bindingName, durableObjectId} of this object (what the adapter sends as callerContext). */
      callerContext: () => call('GET', '/rpc/id', { query: q }),
      /** Polls todos() until pred(todos) holds; returns the last answer. */
      waitForTodos: async (pred, timeoutMs = 30_000, what = 'todos') => {
        const deadline = Date.now() + timeoutMs
        let last
        for (;;) {
          last = await call('GET', '/client/todos', { query: q })
          if (pred(last.todos, last)) return last
          if (Date.now() > deadline) {
            throw new Error(`${name}: ${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 2000)}`)
          }
          await sleep(200)
        }
      },
    }
  }

  /**
   * One hand-made call of the sync DO's rpc(bytes): `messages` are MessagePack-encoded by the
   * harness exactly as the client does (`msgpackr` with records: `pack([...messages])`), or `hex`
   * gives the bytes verbatim. Answer: {requestHex, kind:'bytes', hex, decoded} |
   * {kind:'stream', done, reads:[{bytes, atMs}], values, hex} | {kind:'throw', name, message}, where
   * decoded/values are the top-level MessagePack values (the server sends `[message]` each).
   */
  const rawRpc = (storeId, { messages, hex, readMs } = {}) =>
    call('POST', '/rpc/raw', { query: { storeId }, body: { messages, hex, readMs } })

  return { client, rawRpc }
}

/** The RPC messages of a rawRpc answer (bytes or stream), flattened as the client does. */
export const messagesOf = (answer) => (answer.kind === 'stream' ? answer.values : answer.decoded ?? []).flat(1)

/** The events (eventEncoded) of the Chunk messages of a rawRpc answer, in order. */
export const eventsOfAnswer = (answer) =>
  messagesOf(answer)
    .filter((m) => m._tag === 'Chunk')
    .flatMap((m) => m.values.flatMap((v) => v.batch.map((b) => b.eventEncoded)))

/** The Exit message of a rawRpc answer (the last one), or undefined. */
export const exitOfAnswer = (answer) => messagesOf(answer).filter((m) => m._tag === 'Exit').at(-1)

// ---------------------------------------------------------------------------------------------
// SyncDoRpc requests (Effect RPC `Request` messages as the published client builds them)
// ---------------------------------------------------------------------------------------------

let rid = 100_000
/** A fresh request id ("100000", …): the client's ids are decimal strings of a BigInt counter. */
export const nextRpcId = () => String(rid++)

const request = (tag, payload, id = nextRpcId()) => ({
  _tag: 'Request',
  id,
  tag,
  payload,
  traceId: '00000000000000000000000000000000',
  spanId: '0000000000000000',
  sampled: false,
  headers: [],
})

export const doRpcPing = ({ storeId, payload, id } = {}) =>
  request('SyncDoRpc.Ping', { storeId, ...(payload !== undefined ? { payload } : {}) }, id)

export const doRpcPull = ({ storeId, cursor, backendId, callerContext, payload, id } = {}) =>
  request(
    'SyncDoRpc.Pull',
    {
      cursor: cursor === undefined ? { _tag: 'None' } : { _tag: 'Some', value: { backendId, eventSequenceNumber: cursor } },
      storeId,
      ...(callerContext !== undefined ? { rpcContext: { callerContext } } : {}),
      ...(payload !== undefined ? { payload } : {}),
    },
    id,
  )

export const doRpcPush = ({ storeId, batch, backendId, payload, id } = {}) =>
  request(
    'SyncDoRpc.Push',
    {
      batch,
      backendId: backendId === undefined ? { _tag: 'None' } : { _tag: 'Some', value: backendId },
      storeId,
      ...(payload !== undefined ? { payload } : {}),
    },
    id,
  )
