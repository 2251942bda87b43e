// Minimal raw client for the sync-cf WebSocket protocol (Effect RPC JSON frames, PROTOCOL.md §3–§4):
// one JSON object per text frame, Push = Request → Exit, Pull = Request → Chunk* → Exit (non-live)
// or never-ending Chunks (live). Like the published client it sends one Ack per Chunk of a request
// it still tracks (the reference waits for that Ack before sending the next history chunk).
// It is deliberately thin (no Effect runtime) so the client is never the bottleneck.
import WebSocket from 'ws'

/** `?storeId=…&transport=ws`, encoded like the published client (URLSearchParams). */
export const syncUrl = (wsBase, storeId, payload) => {
  const p = new URLSearchParams()
  p.set('storeId', storeId)
  // encoded like the published client: encodeURIComponent(JSON), then form-encoded once more
  if (payload !== undefined) p.set('payload', encodeURIComponent(JSON.stringify(payload)))
  p.set('transport', 'ws')
  return `${wsBase}/?${p}`
}

/** A LiveStore-shaped global event (about 150 bytes of JSON). */
export const makeEvent = (seqNum, clientId = 'bench-client') => ({
  name: 'todoCreated-v1',
  args: { id: `todo-${seqNum}`, text: `Todo number ${seqNum}` },
  seqNum,
  parentSeqNum: seqNum - 1,
  clientId,
  sessionId: 'bench-session',
})

export const eventRange = (from, to, clientId) => {
  const out = new Array(to - from + 1)
  for (let i = 0; i < out.length; i++) out[i] = makeEvent(from + i, clientId)
  return out
}

const RAW_REQUEST_ID = /"requestId":"([^"]*)"/

/** The seqNums of the events in a raw Chunk frame (`"seqNum":N`; `"parentSeqNum"` does not match). */
export const rawSeqNums = (text) => {
  const out = []
  for (const m of text.matchAll(/"seqNum":(\d+)/g)) out.push(Number(m[1]))
  return out
}

/**
 * What every RpcSocket of this process sent: WebSocket upgrades (a billed Worker request and a
 * billed Durable Object request each) and frames (incoming WebSocket messages of the object,
 * billed 20:1). Read by the cost workloads (bench/lib/cost.mjs) as differences.
 */
export const clientCounts = { upgrades: 0, frames: 0 }

export class RpcSocket {
  /** Opens a socket to `storeId`; resolves once the upgrade completed. */
  /** `ack: false` (diagnostics only): do not ack Chunks, unlike the published client. */
  /** `payload`: the sync payload (e.g. `{ authToken }`), for a server with auth on. */
  static open(wsBase, storeId, { timeoutMs = 30_000, ack = true, payload } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(syncUrl(wsBase, storeId, payload), { perMessageDeflate: false })
      const timer = setTimeout(() => {
        ws.terminate()
        reject(new Error(`WebSocket open to ${storeId} timed out`))
      }, timeoutMs)
      ws.once('open', () => {
        clearTimeout(timer)
        resolve(new RpcSocket(ws, storeId, timeoutMs, ack, payload))
      })
      ws.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
  }

  /** `payload` (the sync payload) also goes into every Push and Pull request, as the published client sends it. */
  constructor(ws, storeId, timeoutMs, ack = true, payload = undefined) {
    clientCounts.upgrades++
    const send = ws.send.bind(ws)
    ws.send = (...args) => {
      clientCounts.frames++
      return send(...args)
    }
    this.ws = ws
    this.ack = ack
    this.storeId = storeId
    this.payload = payload
    this.timeoutMs = timeoutMs
    this.nextId = 0
    this.handlers = new Map() // requestId → {onChunk?, resolve, reject, timer}
    this.closed = false
    this.framesIn = 0
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary))
    ws.on('close', (code) => {
      this.closed = true
      this.#failAll(new Error(`socket closed (code ${code})`))
    })
    ws.on('error', (e) => this.#failAll(e))
  }

  #failAll(err) {
    for (const [id, h] of this.handlers) {
      clearTimeout(h.timer)
      this.handlers.delete(id)
      h.reject(err)
    }
  }

  #onFrame(data, isBinary) {
    this.framesIn++
    if (isBinary) return
    const text = data.toString('utf8')
    // Fast path for the many-socket workloads: a Chunk for a request whose handler takes the raw
    // frame (`onChunkRaw`) is acked and handed over without JSON.parse, so that a client holding
    // a thousand sockets spends as little as it can per delivery.
    if (text.startsWith('{"_tag":"Chunk"')) {
      const m = RAW_REQUEST_ID.exec(text)
      const h = m && this.handlers.get(m[1])
      if (h?.onChunkRaw) {
        if (this.ack) this.ws.send(`{"_tag":"Ack","requestId":"${m[1]}"}`)
        h.onChunkRaw(text)
        return
      }
    }
    let msg
    try {
      msg = JSON.parse(text)
    } catch {
      return
    }
    switch (msg._tag) {
      case 'Chunk': {
        const h = this.handlers.get(msg.requestId)
        if (!h) return // e.g. broadcast to a finished non-live pull id (reference quirk §7.5): ignored, not acked
        if (this.ack) this.ws.send(`{"_tag":"Ack","requestId":${JSON.stringify(msg.requestId)}}`)
        h.onChunk?.(msg.values)
        return
      }
      case 'Exit': {
        const h = this.handlers.get(msg.requestId)
        if (!h) return
        clearTimeout(h.timer)
        this.handlers.delete(msg.requestId)
        if (msg.exit?._tag === 'Success') h.resolve(msg.exit)
        else h.reject(new Error(`request ${msg.requestId} failed: ${JSON.stringify(msg.exit).slice(0, 500)}`))
        return
      }
      case 'Defect':
        this.#failAll(new Error(`server defect: ${JSON.stringify(msg.defect).slice(0, 500)}`))
        return
      default:
        return // Pong etc.
    }
  }

  #request(tag, payload, { onChunk, onChunkRaw, timeoutMs = this.timeoutMs, noTimeout = false } = {}) {
    const id = String(this.nextId++)
    const done = new Promise((resolve, reject) => {
      const timer = noTimeout
        ? undefined
        : setTimeout(() => {
            this.handlers.delete(id)
            reject(new Error(`${tag} ${id} on ${this.storeId}: no Exit within ${timeoutMs} ms`))
          }, timeoutMs)
      this.handlers.set(id, { onChunk, onChunkRaw, resolve, reject, timer })
    })
    if (noTimeout) done.catch(() => {}) // live pulls end only with the socket; nobody awaits them
    this.ws.send(JSON.stringify({ _tag: 'Request', id, tag, payload, headers: [] }))
    return { id, done }
  }

  /** Push a batch; resolves on Exit Success, rejects on failure/timeout. */
  push(batch, { backendId } = {}) {
    return this.#request('SyncWsRpc.Push', {
      storeId: this.storeId,
      payload: this.payload,
      batch,
      backendId: backendId === undefined ? { _tag: 'None' } : { _tag: 'Some', value: backendId },
    }).done
  }

  /**
   * Pull. `onChunk(values)` gets each Chunk's values (an array of PullResponses), or
   * `onChunkRaw(frameText)` the unparsed frame (see #onFrame). For a live pull
   * `done` never resolves (it has no timeout); for a non-live one it resolves on Exit.
   */
  pull({ live, cursor, onChunk, onChunkRaw, timeoutMs }) {
    return this.#request(
      'SyncWsRpc.Pull',
      {
        storeId: this.storeId,
        payload: this.payload,
        live,
        cursor: cursor === undefined ? { _tag: 'None' } : { _tag: 'Some', value: cursor },
      },
      { onChunk, onChunkRaw, timeoutMs, noTimeout: live },
    )
  }

  close() {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate()
        resolve()
      }, 1000)
      this.ws.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      // the reference does not echo close frames (§3.7): terminate after a short grace period
      try {
        this.ws.close(1000)
      } catch {
        clearTimeout(t)
        resolve()
      }
    })
  }
}
