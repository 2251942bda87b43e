// DO-RPC client harness: a Worker whose Durable Object runs a real LiveStore store with
// @livestore/adapter-cloudflare@0.4.0, syncing over DO-RPC with the sync Durable Object of the
// server Worker (`SYNC_BACKEND_DO`, a `script_name` binding to the server's `SyncBackendDO`).
//
// It is the primary worker of a multi-config `wrangler dev` (tests/support/do-rpc-client.mjs):
//
//   /client/<op>?storeId=S&name=N   op of the client object `N` of store `S` (idFromName(`S/N`))
//   /rpc/raw?storeId=S              hand-made SyncDoRpc call on the sync DO (MessagePack built here)
//   /rpc/id?storeId=S&name=N        the client object's id string (for a hand-made callerContext)
//   /direct/<path>?object=O&…       `fetch` of <path>?… straight on the sync DO idFromName(O), with
//                                   the request's method, headers and body: what any Worker that
//                                   binds the sync class can do, bypassing the server Worker
//   anything else                   forwarded unchanged to the server Worker (`SYNC_SERVER` service
//                                   binding), so the same port also serves the WS/HTTP sync client.
//
// Client object ops (JSON answers):
//   POST /client/boot       opens the store unless open (live pull over DO-RPC; `&live=false`: the
//                           adapter's default livePull: false); answers like status
//   POST /client/commit     body {id, text, author?}: commits v1.TodoCreated
//   GET  /client/todos      opens the store if needed, answers {todos (rowid order), sync status}
//   GET  /client/status     does NOT open the store: instance id, whether a store is open, the
//                           syncUpdateRpc calls this instance received and all calls ever received
//                           (persisted in the object's KV storage, so they survive eviction)
//   POST /client/evict      ctx.abort(): the runtime drops this instance now (forced eviction);
//                           the next request or syncUpdateRpc constructs a fresh one
//   POST /client/shutdown   shuts the store down (the object stays)
//   POST /client/fail-updates  from now on syncUpdateRpc records the call, then throws (a client
//                           object that is broken or gone, as the sync DO sees it); persisted
//
// The object's `syncUpdateRpc(payload)` (what the sync DO calls for live updates) records the call
// and hands it to the published `handleSyncUpdateRpc`. An instance without an open store (fresh
// after an eviction) that receives one re-opens its store when it was booted before (REBOOT_ON_UPDATE
// var, default "true"): 0.4.0's adapter does not do that by itself.
import { DurableObject } from 'cloudflare:workers'

import { createStoreDoPromise } from '@livestore/adapter-cloudflare'
import { handleSyncUpdateRpc } from '@livestore/sync-cf/client'
import { RpcSerialization } from '@livestore/utils/effect'

// the schema the e2e tests' Node stores use too, so that they can share a store
import { allTodos, events, schema } from '../../support/todo-schema.mjs'

// ---------------------------------------------------------------------------------------------

type Env = {
  /** This worker's own client namespace; its binding name is CLIENT_BINDING (default CLIENT_DO). */
  [binding: string]: any
  SYNC_BACKEND_DO: DurableObjectNamespace
  SYNC_SERVER: Fetcher
  CLIENT_BINDING?: string
  REBOOT_ON_UPDATE?: string
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16))

/** JSON-safe copy of a decoded MessagePack value (bigint, Uint8Array, undefined, Map made visible). */
const plain = (v: unknown): unknown => {
  if (v === undefined) return { $undefined: true }
  if (typeof v === 'bigint') return { $bigint: v.toString() }
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (v instanceof Map) return { $map: [...v.entries()].map(([k, x]) => [plain(k), plain(x)]) }
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

const bindingName = (env: Env) => env.CLIENT_BINDING ?? 'CLIENT_DO'
const clientNamespace = (env: Env): DurableObjectNamespace => env[bindingName(env)]

/** Summary of one syncUpdateRpc payload ({_tag:'Chunk', requestId, values:[PullResponse]}). */
const summarizeUpdate = (payload: any) => ({
  at: Date.now(),
  tag: payload?._tag,
  requestId: payload?.requestId,
  seqNums: (payload?.values ?? []).flatMap((v: any) => (v?.batch ?? []).map((b: any) => b?.eventEncoded?.seqNum)),
  keys: payload && typeof payload === 'object' ? Object.keys(payload) : typeof payload,
})

export class LiveStoreClientDO extends DurableObject<Env> {
  readonly instanceId = crypto.randomUUID().slice(0, 8)
  readonly constructedAt = Date.now()
  private store: any
  private storeId: string | undefined
  private booting: Promise<any> | undefined
  /** syncUpdateRpc calls received by this instance. */
  private updates: ReturnType<typeof summarizeUpdate>[] = []
  private lastBootError: string | undefined

  private async boot(storeId: string, name: string, livePull = true) {
    if (this.store !== undefined && this.storeId === storeId) return this.store
    if (this.booting !== undefined) return this.booting
    this.booting = (async () => {
      try {
        if (this.store !== undefined) await this.store.shutdownPromise()
        // remembered so that a fresh instance (after eviction) can re-open on a live update
        await this.ctx.storage.put('boot', { storeId, name, livePull })
        const namespace = this.env.SYNC_BACKEND_DO
        this.store = await createStoreDoPromise({
          schema,
          storeId,
          clientId: `do-${name}`,
          sessionId: `s-${this.instanceId}`,
          durableObject: { ctx: this.ctx as any, env: this.env, bindingName: bindingName(this.env) as any },
          syncBackendStub: namespace.get(namespace.idFromName(storeId)) as any,
          livePull,
        })
        this.storeId = storeId
        this.lastBootError = undefined
        return this.store
      } catch (e: any) {
        this.lastBootError = String(e?.stack ?? e)
        throw e
      } finally {
        this.booting = undefined
      }
    })()
    return this.booting
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const storeId = url.searchParams.get('storeId') ?? ''
    const name = url.searchParams.get('name') ?? ''
    const op = url.pathname.replace(/^\/client\//, '')
    const status = async () => ({
      instanceId: this.instanceId,
      constructedAt: this.constructedAt,
      booted: this.store !== undefined,
      storeId: this.storeId,
      id: this.ctx.id.toString(),
      lastBootError: this.lastBootError,
      updates: this.updates,
      allUpdates: (await this.ctx.storage.get('allUpdates')) ?? [],
      syncStatus: this.store?.syncStatus(),
    })
    try {
      switch (`${request.method} ${op}`) {
        case 'POST boot':
          await this.boot(storeId, name, url.searchParams.get('live') !== 'false')
          return json(await status())
        case 'POST commit': {
          const body = (await request.json()) as { id: string; text: string; author?: string }
          const store = await this.boot(storeId, name)
          store.commit(events.todoCreated({ id: body.id, text: body.text, author: body.author ?? name }))
          return json({ ok: true, instanceId: this.instanceId, syncStatus: store.syncStatus() })
        }
        case 'GET todos': {
          const store = await this.boot(storeId, name)
          return json({ instanceId: this.instanceId, todos: store.query(allTodos), syncStatus: store.syncStatus() })
        }
        case 'GET status':
          return json(await status())
        case 'POST evict':
          // Throws in this request, and the runtime discards the instance (and its in-memory store).
          this.ctx.abort('evicted by the test harness')
          return json({ aborted: false })
        case 'POST fail-updates':
          await this.ctx.storage.put('failUpdates', true)
          return json({ ok: true })
        case 'POST shutdown':
          if (this.store !== undefined) await this.store.shutdownPromise()
          this.store = undefined
          this.storeId = undefined
          return json(await status())
        default:
          return json({ error: `unknown op ${request.method} ${op}` }, 404)
      }
    } catch (e: any) {
      return json({ error: String(e?.message ?? e), stack: String(e?.stack ?? ''), instanceId: this.instanceId }, 500)
    }
  }

  /** Called by the sync DO (env[bindingName].get(idFromString(id)).syncUpdateRpc(payload)). */
  async syncUpdateRpc(payload: unknown) {
    const summary = summarizeUpdate(payload)
    this.updates.push(summary)
    const all = ((await this.ctx.storage.get('allUpdates')) as any[] | undefined) ?? []
    all.push({ ...summary, instanceId: this.instanceId })
    await this.ctx.storage.put('allUpdates', all)
    if ((await this.ctx.storage.get('failUpdates')) === true) throw new Error('this client object refuses live updates (fail-updates)')
    if (this.store === undefined && this.booting === undefined && (this.env.REBOOT_ON_UPDATE ?? 'true') === 'true') {
      const boot = (await this.ctx.storage.get('boot')) as { storeId: string; name: string; livePull: boolean } | undefined
      if (boot !== undefined) {
        // a fresh instance: nothing would consume this update (0.4.0 logs "No mailbox found");
        // re-opening the store pulls from its persisted cursor and subscribes again
        this.ctx.waitUntil(this.boot(boot.storeId, boot.name, boot.livePull).catch(() => {}))
      }
    }
    await handleSyncUpdateRpc(payload)
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-made calls of the sync DO's `rpc` (MessagePack exactly as the published client encodes it)
// ---------------------------------------------------------------------------------------------

const withTimeout = <T>(p: Promise<T>, ms: number, onTimeout: () => T) =>
  Promise.race([p, new Promise<T>((r) => setTimeout(() => r(onTimeout()), ms))])

/**
 * body: {messages: [...]}  → encoded like the client: msgpack([...messages]) (one array value)
 *       {hex: "…"}         → these bytes verbatim
 *       {readMs?: number}  → for a stream answer, stop reading after this long (live pulls); default 5000
 * answer: {requestHex, kind:'bytes', hex, decoded} | {requestHex, kind:'stream', done, reads, values, hex}
 *       | {requestHex, kind:'throw', name, message} (decoded/values: the top-level MessagePack values)
 */
const rawRpc = async (request: Request, env: Env, storeId: string) => {
  const body = (await request.json()) as { messages?: unknown[]; hex?: string; readMs?: number }
  const parser = RpcSerialization.msgPack.unsafeMake()
  const bytes = body.hex !== undefined ? unhex(body.hex) : (parser.encode(body.messages) as Uint8Array)
  const stub: any = env.SYNC_BACKEND_DO.get(env.SYNC_BACKEND_DO.idFromName(storeId))
  const decode = (b: Uint8Array) => {
    try {
      return plain(RpcSerialization.msgPack.unsafeMake().decode(b))
    } catch (e: any) {
      return { $decodeError: String(e?.message ?? e) }
    }
  }
  let res: unknown
  try {
    res = await stub.rpc(bytes)
  } catch (e: any) {
    return json({ requestHex: hex(bytes), kind: 'throw', name: e?.name, message: String(e?.message ?? e) })
  }
  if (res instanceof ReadableStream) {
    // A byte stream: the runtime does not keep the sender's chunk boundaries (a long answer arrives
    // in 4096-byte reads locally), so, like the published client, one parser decodes the
    // concatenation and carries an incomplete MessagePack value over to the next read.
    const reader = res.getReader()
    const streamParser = RpcSerialization.msgPack.unsafeMake()
    const reads: { bytes: number; atMs: number }[] = []
    const values: unknown[] = []
    const all: Uint8Array[] = []
    const t0 = Date.now()
    const deadline = t0 + (body.readMs ?? 5000)
    let done = false
    let error: string | undefined
    while (!done) {
      const left = deadline - Date.now()
      if (left <= 0) break
      try {
        const r = await withTimeout(reader.read(), left, () => ({ timeout: true }) as any)
        if ((r as any).timeout) break
        if (r.done) {
          done = true
          break
        }
        const chunk = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value)
        all.push(chunk)
        reads.push({ bytes: chunk.byteLength, atMs: Date.now() - t0 })
        values.push(...(streamParser.decode(chunk) as unknown[]).map(plain))
      } catch (e: any) {
        error = String(e?.message ?? e)
        break
      }
    }
    await reader.cancel().catch(() => {})
    const total = new Uint8Array(all.reduce((n, c) => n + c.byteLength, 0))
    all.reduce((off, c) => (total.set(c, off), off + c.byteLength), 0)
    // values: the top-level MessagePack values in order (each `[message]`, as the server enqueued them)
    return json({ requestHex: hex(bytes), kind: 'stream', done, error, reads, values, hex: hex(total) })
  }
  if (res instanceof Uint8Array || res instanceof ArrayBuffer) {
    const b = res instanceof Uint8Array ? res : new Uint8Array(res)
    return json({ requestHex: hex(bytes), kind: 'bytes', hex: hex(b), decoded: decode(b) })
  }
  return json({ requestHex: hex(bytes), kind: 'other', type: typeof res, value: plain(res) })
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    const storeId = url.searchParams.get('storeId')
    if (url.pathname.startsWith('/client/')) {
      const name = url.searchParams.get('name')
      if (storeId === null || name === null) return json({ error: 'storeId and name are required' }, 400)
      const ns = clientNamespace(env)
      const stub = ns.get(ns.idFromName(`${storeId}/${name}`))
      try {
        return await stub.fetch(request)
      } catch (e: any) {
        // POST /client/evict ends here: ctx.abort() fails the request that called it
        return json({ thrown: true, message: String(e?.message ?? e) }, url.pathname === '/client/evict' ? 200 : 500)
      }
    }
    if (url.pathname === '/rpc/id') {
      const name = url.searchParams.get('name') ?? ''
      const ns = clientNamespace(env)
      return json({ bindingName: bindingName(env), durableObjectId: ns.idFromName(`${storeId}/${name}`).toString() })
    }
    if (url.pathname.startsWith('/direct/')) {
      const object = url.searchParams.get('object') ?? ''
      url.searchParams.delete('object')
      const inner = new URL(url.pathname.slice('/direct'.length) + url.search, 'https://sync-object')
      const stub = env.SYNC_BACKEND_DO.get(env.SYNC_BACKEND_DO.idFromName(object))
      return stub.fetch(new Request(inner, request))
    }
    if (url.pathname === '/rpc/raw' && request.method === 'POST') {
      if (storeId === null) return json({ error: 'storeId is required' }, 400)
      return rawRpc(request, env, storeId)
    }
    // everything else (sync requests, GET /) belongs to the server Worker
    return env.SYNC_SERVER.fetch(request)
  },
}
