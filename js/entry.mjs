// The Worker's entry module (wrangler.toml `main`): worker-build's output, plus the one thing it
// cannot give the sync Durable Object — JS RPC, which the DO-RPC transport of
// @livestore/sync-cf@0.4.0 uses (docs/do-rpc.md).
//
// Cloudflare offers RPC methods only on a class that extends `DurableObject`. worker-build 0.8.7
// exports the wasm-bindgen class `SyncBackendDO` wrapped in a Proxy (its recovery from a Wasm trap:
// the next access re-instantiates the module and re-constructs the object), which is not such a
// class, so `stub.rpc(…)` would fail with "does not support RPC". This class is the exported Durable
// Object: it holds the Rust object, forwards every handler to it unchanged, and adds `rpc`, the only
// method the DO-RPC client calls. Keep it that small: every method here is callable by anyone holding
// a binding to the class.
import { DurableObject } from 'cloudflare:workers'

import RustWorker, { SyncBackendDO as RustSyncBackendDO } from '../build/index.js'
import { rpcAnswer } from './cf-worker.mjs'

export default RustWorker

export class SyncBackendDO extends DurableObject {
  #inner

  constructor(ctx, env) {
    super(ctx, env)
    this.#inner = new RustSyncBackendDO(ctx, env)
  }

  fetch(request) {
    return this.#inner.fetch(request)
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
   * single Pull a stream of `[Chunk]` … `[Exit]` values that the Rust object makes piece by piece as
   * the caller reads (js/cf-worker.mjs `rpcAnswer`).
   */
  async rpc(payload) {
    return rpcAnswer(this.#inner, payload)
  }
}
