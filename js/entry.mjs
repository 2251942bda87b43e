// DRAFT (not wired in yet): the Worker's entry module once the Rust Durable Object serves DO-RPC.
// See docs/do-rpc.md §9. To use it: wrangler.toml `main = "js/entry.mjs"` (the [build] command stays
// `sh scripts/build.sh`, which writes build/index.js + build/index_bg.wasm as today).
//
// Why a JS class at all: Cloudflare only exposes JS RPC methods (here `rpc`) on a class that extends
// `DurableObject`. worker-build 0.8.7 exports the wasm-bindgen class `SyncBackendDO` wrapped in a
// Proxy (its panic-recovery shim: after a Wasm trap the next access re-instantiates the module and
// re-constructs the object), which is not such a class, so a call of `stub.rpc(…)` fails with
// "does not support RPC" (shared TOOLCHAIN.md). This class is the smallest fix: it is the exported
// Durable Object, holds the Rust object, forwards every handler unchanged and adds `rpc`.
//
// What the DO-RPC client calls on the sync DO: only `rpc(Uint8Array)` (seen on the wire, docs §5).
// The reverse call `syncUpdateRpc` is made BY the sync DO on the client's object, from Rust
// (Stub::into_rpc with an extern type, docs §9.3); nothing of it is needed here.
import { DurableObject } from 'cloudflare:workers'

// worker-build's output: the Worker entrypoint (default) and the Proxy-wrapped Rust class. Keeping
// the Proxy keeps worker-build's recovery from a Wasm trap for `inner` too.
import RustWorker, { SyncBackendDO as RustSyncBackendDO } from '../build/index.js'

export default RustWorker

export class SyncBackendDO extends DurableObject {
  #inner

  constructor(ctx, env) {
    super(ctx, env)
    // what worker-build's class does itself: wasm-bindgen's constructor → SyncBackendDO::new(state, env)
    this.#inner = new RustSyncBackendDO(ctx, env)
  }

  // -- the handlers the Rust object has today, unchanged ------------------------------------------
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
  alarm(_alarmInfo) {
    // the Rust export takes no argument (worker-macros: `alarm(&self)`)
    return this.#inner.alarm()
  }

  // -- DO-RPC ---------------------------------------------------------------------------------------
  /**
   * The only method the DO-RPC client calls: `payload` is msgpackr-encoded `[Request]` (docs §2–§4).
   * The Rust method (a second `#[wasm_bindgen] impl SyncBackendDO` block, docs §9.2) answers either
   *   - a Uint8Array: msgpackr-encoded `[Exit, …]` for Ping/Push (and for anything that is no
   *     single stream request), or
   *   - for a single Pull: the stream's pieces, each a msgpackr-encoded `[Chunk]` and finally `[Exit]`,
   *     either all at once as an Array of Uint8Array (simplest: the history is bounded by the store), or
   *     lazily as a `DoRpcStream` (a wasm-bindgen struct) whose `next()` resolves to the next piece,
   *     then to `undefined` (for large stores; it needs its own handle on the storage, docs §9.2).
   * A stream is handed to the caller as a ReadableStream of Uint8Array (the caller reads it as one
   * byte stream: chunk boundaries are not kept, docs §4.3).
   */
  async rpc(payload) {
    const out = await this.#inner.rpc(payload instanceof Uint8Array ? payload : new Uint8Array(payload))
    if (out instanceof Uint8Array) return out
    if (Array.isArray(out)) {
      return new ReadableStream({
        start(controller) {
          for (const piece of out) controller.enqueue(piece)
          controller.close()
        },
      })
    }
    const stream = out
    return new ReadableStream({
      async pull(controller) {
        try {
          const chunk = await stream.next()
          if (chunk === undefined) {
            controller.close()
            stream.free()
          } else {
            controller.enqueue(chunk)
          }
        } catch (error) {
          controller.error(error)
          stream.free()
        }
      },
      cancel() {
        stream.free()
      },
    })
  }
}
