// Hibernation/eviction probe through workerd's V8 inspector (the user-worker workerd is started by
// wrangler with --inspector-addr; we connect to it directly, not through wrangler's proxy).
//
// A heap snapshot lists workerd's own native objects by class ("workerd / AutoResponse",
// "workerd / attachment", "workerd / DurableObjectState", ...). When local workerd hibernates an
// idle Durable Object it releases the isolate-side state of the object and of its hibernatable
// sockets, so those counts drop; they come back when the next message wakes the object. Comparing
// the counts just after the warm pushes with the counts just before the idle push (no other object
// active on that server meanwhile) tells whether anything was released while idle. Snapshot ids
// are not stable across inspector sessions here, so only per-class counts are compared.
import WebSocket from 'ws'

import { listeningPorts } from './procfs.mjs'

/** WebSocket URL of the user worker's inspector target, or undefined. */
/**
 * WebSocket URL of the user worker's inspector target, or undefined. workerd leaves the first
 * inspector session of an isolate unanswered (seen with wrangler 4.164 / workerd here), so the URL
 * is primed with a throwaway session before it is returned; later sessions answer at once.
 */
export const findInspectorUrl = async (server) => {
  const user = server.procs.find((p) => p.role === 'user')
  if (!user) return undefined
  for (const port of listeningPorts(user.pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(1500) })
      if (!res.ok) continue
      const list = await res.json()
      const target = Array.isArray(list) && list.find((t) => typeof t.id === 'string' && t.id.startsWith('core:user:'))
      if (target?.webSocketDebuggerUrl) {
        await prime(target.webSocketDebuggerUrl)
        return target.webSocketDebuggerUrl
      }
    } catch {}
  }
  return undefined
}

const prime = (url) =>
  new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const done = () => {
      clearTimeout(timer)
      ws.terminate()
      resolve()
    }
    const timer = setTimeout(done, 1500)
    ws.once('error', done)
    ws.once('message', done)
    ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'Runtime.getIsolateId' })))
  })

/**
 * One inspector session. Heap-snapshot object ids are only stable within a session (a new session
 * renumbers), so both snapshots of a comparison must come from the same session.
 */
export class InspectorSession {
  static open(url, { timeoutMs = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 })
      const timer = setTimeout(() => {
        ws.terminate()
        reject(new Error('inspector connect timed out'))
      }, timeoutMs)
      ws.once('open', () => {
        clearTimeout(timer)
        resolve(new InspectorSession(ws))
      })
      ws.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
  }

  constructor(ws) {
    this.ws = ws
    this.nextId = 1
    this.pending = new Map()
    this.chunks = []
    ws.on('message', (data) => {
      let m
      try {
        m = JSON.parse(data.toString('utf8'))
      } catch {
        return
      }
      if (m.method === 'HeapProfiler.addHeapSnapshotChunk') this.chunks.push(m.params.chunk)
      else if (m.id !== undefined && this.pending.has(m.id)) {
        const p = this.pending.get(m.id)
        this.pending.delete(m.id)
        clearTimeout(p.timer)
        if (m.error) p.reject(new Error(JSON.stringify(m.error)))
        else p.resolve(m.result)
      }
    })
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('inspector session closed'))
      this.pending.clear()
    })
  }

  call(method, params = {}, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${method} timed out`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.ws.send(JSON.stringify({ id, method, params }))
    })
  }

  /** Per-class counts of workerd native objects in the isolate (the snapshot forces a GC first). */
  async workerdObjectCounts({ timeoutMs = 30_000 } = {}) {
    this.chunks = []
    await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, timeoutMs)
    const snap = JSON.parse(this.chunks.join(''))
    this.chunks = []
    const fields = snap.snapshot.meta.node_fields
    const types = snap.snapshot.meta.node_types[0]
    const nf = fields.length
    const iType = fields.indexOf('type')
    const iName = fields.indexOf('name')
    const counts = {}
    for (let i = 0; i < snap.nodes.length; i += nf) {
      if (types[snap.nodes[i + iType]] !== 'native') continue
      const name = snap.strings[snap.nodes[i + iName]]
      if (!name.startsWith('workerd / ')) continue
      counts[name] = (counts[name] ?? 0) + 1
    }
    return counts
  }

  close() {
    this.ws.terminate()
  }
}

/**
 * Counts from a fresh session. A session that closes or stays silent (seen once after a long
 * idle period) is retried after priming the target again.
 */
export const workerdObjectCounts = async (url, { attempts = 3 } = {}) => {
  let lastError
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await prime(url)
    let sess
    try {
      sess = await InspectorSession.open(url)
      return await sess.workerdObjectCounts({ timeoutMs: 15_000 })
    } catch (e) {
      lastError = e
    } finally {
      sess?.close()
    }
  }
  throw lastError
}

/** {class: delta} for every class whose count changed from `a` to `b`. */
export const countDiff = (a, b) => {
  const out = {}
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0)
    if (d !== 0) out[k] = d
  }
  return out
}
