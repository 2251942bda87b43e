// The benchmark's metered copy of the floor (bench/floor): its Durable Object held by a class that
// lets bench/usage/meter.mjs count the SQLite rows it reads and writes, every handler forwarded
// unchanged. Paths are relative to the private snapshot (usage/ beside build/), see ours.mjs.
import { DurableObject } from 'cloudflare:workers'

import Worker, { FloorDO as Inner } from '../build/index.js'
import { meter, usageRequest } from './meter.mjs'

export default Worker

export class FloorDO extends DurableObject {
  #inner

  constructor(ctx, env) {
    super(ctx, env)
    meter(ctx, env)
    this.#inner = new Inner(ctx, env)
  }

  fetch(request) {
    return usageRequest(request) ?? this.#inner.fetch(request)
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
}
