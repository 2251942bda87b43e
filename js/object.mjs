// The sync Durable Object class around the Rust object, shared by the config-only Worker
// (js/entry.mjs) and the sync-cf API's makeDurableObject (js/cf-worker.mjs).
//
// Cloudflare offers RPC methods only on a class that extends `DurableObject`; worker-build 0.8.7
// exports the wasm-bindgen class wrapped in a Proxy, which is not such a class. This class holds
// the Rust object, forwards every handler to it unchanged, and adds `rpc`, the only method the
// DO-RPC client calls (docs/do-rpc.md). Keep it that small: every method here is callable by
// anyone holding a binding to the class.
import { DurableObject } from 'cloudflare:workers'

import { SyncBackendDO as RustSyncBackendDO } from '../build/index.js'

/**
 * Reads what is left of a request body and drops it (at most `limit` bytes; the rest is cancelled).
 * An answer the object gives without reading the body (a refusal: a transport it does not serve)
 * would otherwise leave the Worker that forwarded the request still sending the body after that
 * Worker's own answer: wrangler 4.50.0's workerd then logs "Can't read from request stream after
 * response has been sent" and can stall the next request (tests/package, d1-ws-only).
 */
const drain = async (body, limit = 64 * 1024) => {
  const reader = body.getReader()
  try {
    for (let read = 0; read <= limit; ) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
    await reader.cancel()
  } catch {
    // a body that cannot be read any more has nothing left to send
  }
}

/** The class; `envFor(env)` is the env the Rust object gets (the sync-cf API adds its bridge). */
export const rustObjectClass = (envFor) =>
  class SyncBackendDOBase extends DurableObject {
    #inner

    constructor(ctx, env) {
      super(ctx, env)
      this.#inner = new RustSyncBackendDO(ctx, envFor(env))
    }

    async fetch(request) {
      const response = await this.#inner.fetch(request)
      if (request.body !== null && !request.bodyUsed) await drain(request.body)
      return response
    }

    webSocketMessage(ws, message) {
      return this.#inner.webSocketMessage(ws, message)
    }

    webSocketClose(ws, code, reason, wasClean) {
      return this.#inner.webSocketClose(ws, code, reason, wasClean)
    }

    webSocketError(ws, error) {
      return this.#inner.webSocketError(ws, error)
    }

    alarm() {
      return this.#inner.alarm()
    }

    /**
     * DO-RPC: `payload` is msgpackr-encoded `[Request]`. Answers the bytes of `[Exit, …]`, or for a
     * single Pull a stream of `[Chunk]` … `[Exit]` values that the Rust object makes piece by piece
     * as the caller reads (`[piece, handle]`: the next piece comes from `rpcPullNext(handle)`, none
     * when the handle is undefined).
     */
    async rpc(payload) {
      if (!(payload instanceof Uint8Array)) {
        throw new TypeError('rpc expects the MessagePack bytes of a request (a Uint8Array)')
      }
      const inner = this.#inner
      const answer = await inner.rpc(payload)
      if (answer instanceof Uint8Array) return answer
      let [piece, handle] = answer
      return new ReadableStream({
        async pull(controller) {
          if (piece === undefined) [piece, handle] = await inner.rpcPullNext(handle)
          controller.enqueue(piece)
          piece = undefined
          if (handle === undefined) controller.close()
        },
        cancel() {
          if (handle !== undefined) inner.rpcPullCancel(handle)
        },
      })
    }
  }
