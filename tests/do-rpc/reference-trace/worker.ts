// The published @livestore/sync-cf@0.4.0 server (as tests/reference/worker.ts) with a tracing
// subclass of its sync Durable Object, used to capture the DO-RPC wire format (docs/do-rpc.md):
//
//   rpc(bytes)            the request bytes, the answer bytes or every ReadableStream chunk, or the throw
//   fetch(request)        method and URL of every fetch (to see which calls a DO-RPC client makes)
//   syncUpdateRpc(obj)    every reverse call the sync DO makes on a client object, with its argument
//
// Each is one console line `DORPC {json}` (wrangler's log). Behaviour is unchanged: the request is
// passed on untouched, a stream answer is piped through an identity TransformStream, the env the
// base class sees is a Proxy whose client namespaces hand out logging stubs.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'
import { RpcSerialization } from '@livestore/utils/effect'

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

const plain = (v: unknown): unknown => {
  if (v === undefined) return { $undefined: true }
  if (typeof v === 'bigint') return { $bigint: v.toString() }
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (v instanceof Map) return { $map: [...v.entries()].map(([k, x]) => [plain(k), plain(x)]) }
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

const decode = (b: Uint8Array) => {
  try {
    return plain(RpcSerialization.msgPack.unsafeMake().decode(b))
  } catch (e: any) {
    return { $decodeError: String(e?.message ?? e) }
  }
}

let seq = 0
const trace = (event: string, data: Record<string, unknown>) =>
  console.log(`DORPC ${JSON.stringify({ seq: seq++, t: Date.now(), event, ...data })}`)

/** A stub whose syncUpdateRpc is logged (argument as received, i.e. after structured clone). */
const tracingStub = (stub: any, binding: string, id: string) =>
  new Proxy(stub, {
    get(target, prop) {
      if (prop === 'syncUpdateRpc') {
        return async (payload: unknown) => {
          trace('syncUpdateRpc.call', { binding, durableObjectId: id, payload: plain(payload), type: Object.prototype.toString.call(payload) })
          try {
            const result = await target.syncUpdateRpc(payload)
            trace('syncUpdateRpc.result', { binding, durableObjectId: id, result: plain(result) })
            return result
          } catch (e: any) {
            trace('syncUpdateRpc.throw', { binding, durableObjectId: id, name: e?.name, message: String(e?.message ?? e) })
            throw e
          }
        }
      }
      const v = Reflect.get(target, prop)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })

const tracingNamespace = (ns: any, binding: string) => ({
  idFromString: (s: string) => ns.idFromString(s),
  idFromName: (s: string) => ns.idFromName(s),
  newUniqueId: (o?: unknown) => ns.newUniqueId(o),
  get: (id: any, o?: unknown) => {
    trace('namespace.get', { binding, durableObjectId: id.toString() })
    return tracingStub(ns.get(id, o), binding, id.toString())
  },
})

const tracingEnv = (env: Record<string, any>) =>
  new Proxy(env, {
    get(target, prop) {
      const v = Reflect.get(target, prop)
      if (typeof prop === 'string' && prop !== 'SYNC_BACKEND_DO' && v && typeof v.idFromString === 'function') {
        return tracingNamespace(v, prop)
      }
      if (typeof prop === 'string' && v === undefined && prop !== 'then') trace('env.missing', { binding: prop })
      return v
    },
  })

const Base = makeDurableObject({})

export class SyncBackendDO extends Base {
  constructor(ctx: any, env: any) {
    super(ctx, tracingEnv(env))
    trace('construct', { id: ctx.id.toString() })
    // the base class's fetch is an instance property: wrap it to see whether DO-RPC clients use it
    const fetch = this.fetch
    this.fetch = (request: any) => {
      trace('fetch', { method: request.method, url: request.url, upgrade: request.headers.get('upgrade') })
      return fetch(request)
    }
  }

  override async rpc(payload: Uint8Array): Promise<any> {
    const t0 = Date.now()
    trace('rpc.request', { type: Object.prototype.toString.call(payload), bytes: payload.byteLength, hex: hex(payload), decoded: decode(payload) })
    let res: any
    try {
      res = await super.rpc(payload as any)
    } catch (e: any) {
      trace('rpc.throw', { name: e?.name, message: String(e?.message ?? e), ms: Date.now() - t0 })
      throw e
    }
    if (res instanceof ReadableStream) {
      trace('rpc.stream', { ms: Date.now() - t0 })
      let n = 0
      return res.pipeThrough(
        new TransformStream({
          transform(chunk, controller) {
            const b = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk)
            trace('rpc.stream.chunk', { n: n++, type: Object.prototype.toString.call(chunk), bytes: b.byteLength, hex: hex(b), decoded: decode(b) })
            controller.enqueue(chunk)
          },
          flush() {
            trace('rpc.stream.end', { chunks: n, ms: Date.now() - t0 })
          },
        }),
      )
    }
    const b = res instanceof Uint8Array ? res : new Uint8Array(res)
    trace('rpc.response', { type: Object.prototype.toString.call(res), bytes: b.byteLength, hex: hex(b), decoded: decode(b), ms: Date.now() - t0 })
    return res
  }
}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
