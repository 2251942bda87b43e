// `--profile`: where the user worker's CPU goes per single-event push, from V8's sampling profiler
// (through workerd's inspector), after the measured workloads (the profiler slows the isolate
// down, so nothing measured runs while it is on). Our Wasm keeps its name section, so Rust
// functions appear by name. Writes the .cpuprofile files (open them in Chrome DevTools) to
// bench/.prof/ and returns a summary by category and the top functions by self time.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import { InspectorSession, findInspectorUrl } from './inspector.mjs'
import { RpcSocket, makeEvent } from './rpc-client.mjs'
import { freshStoreId } from './stats.mjs'

/** A category for a profile node: runtime calls the Worker makes, glue, Rust, or V8 itself. */
const categoryOf = (frame) => {
  const name = frame.functionName
  const url = frame.url ?? ''
  if (name === '(idle)') return 'idle (waiting for the next message)'
  if (name === '(program)' || name === '(garbage collector)') return 'V8/workerd native: (program), GC'
  if (/\.wasm/.test(url) || /wasm-function|\.wasm-/.test(name)) return 'Wasm (Rust code)'
  if (name === 'exec') return 'runtime: SQL exec'
  if (name === 'transactionSync') return 'runtime: transactionSync (commit)'
  if (name === 'send') return 'runtime: WebSocket send'
  if (name === 'wasm-to-js' || name === 'js-to-wasm') return 'Wasm↔JS transitions'
  if (/index\.js$/.test(url) || /worker\.(ts|js)$/.test(url)) return 'JS of the Worker (wasm-bindgen glue, or the reference)'
  if (!url) return `runtime: other native (${name || 'anonymous'})`
  return 'JS (other modules)'
}

/**
 * Profiles `pushes` sequential single-event pushes (after `warm` unprofiled ones) on a fresh store.
 * Returns {file, perPushUs, categories: [[name, µs/push]], top: [[function, µs/push]]}.
 */
export const profilePush1 = async (server, { name, pushes = 3000, warm = 1000, outDir, tag }) => {
  const url = await findInspectorUrl(server)
  if (!url) throw new Error(`${server.kind}: no inspector found`)
  const sock = await RpcSocket.open(server.wsUrl, freshStoreId('profile'))
  let seq = 0
  try {
    for (let i = 0; i < warm; i++) await sock.push([makeEvent(++seq)])
    const sess = await InspectorSession.open(url)
    let profile
    try {
      await sess.call('Profiler.enable')
      await sess.call('Profiler.setSamplingInterval', { interval: 100 })
      await sess.call('Profiler.start')
      for (let i = 0; i < pushes; i++) await sock.push([makeEvent(++seq)])
      ;({ profile } = await sess.call('Profiler.stop', {}, 60_000))
    } finally {
      sess.close()
    }
    mkdirSync(outDir, { recursive: true })
    const file = path.join(outDir, `${tag}-${name ?? server.kind}-push1.cpuprofile`)
    writeFileSync(file, JSON.stringify(profile))
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const selfUs = new Map()
    profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
    const cats = new Map()
    const crates = new Map()
    const fns = new Map()
    let total = 0
    for (const [id, us] of selfUs) {
      const frame = byId.get(id).callFrame
      total += us
      const c = categoryOf(frame)
      cats.set(c, (cats.get(c) ?? 0) + us)
      if (c === 'Wasm (Rust code)') {
        // the crate of a Rust symbol: its first path segment (`<&mut serde_json::… as …>` → serde_json)
        const m = frame.functionName.match(/([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/)
        const crate = m ? m[1] : frame.functionName.startsWith('js-to-wasm') || frame.functionName.startsWith('wasm-to-js') ? 'transitions' : '(unnamed)'
        crates.set(crate, (crates.get(crate) ?? 0) + us)
      }
      if (frame.functionName === '(idle)') continue
      const fn = (frame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '') + (frame.url ? ` [${frame.url.split('/').pop().slice(0, 30)}]` : '')
      fns.set(fn, (fns.get(fn) ?? 0) + us)
    }
    const per = (us) => us / pushes
    return {
      file,
      pushes,
      samplingIntervalUs: 100,
      perPushUs: per(total),
      categories: [...cats].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)]),
      rustCrates: [...crates].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)]),
      top: [...fns].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => [k, per(v)]),
    }
  } finally {
    await sock.close()
  }
}

/** Text lines for the end of the report. */
export const profileText = (profiles) => {
  const out = ['', 'Profile (--profile): V8 sampling profiler in the user worker, 100 µs interval, warm single-event pushes; µs per push (the profiler itself slows the isolate down: compare shares, not totals with the table).']
  for (const [kind, p] of Object.entries(profiles)) {
    if (p.error) {
      out.push(`  ${kind}: failed: ${p.error}`)
      continue
    }
    out.push(`  ${kind} (${p.pushes} pushes, ${p.perPushUs.toFixed(0)} µs/push sampled; ${path.relative(process.cwd(), p.file)}):`)
    for (const [c, v] of p.categories) {
      out.push(`    ${v.toFixed(1).padStart(7)}  ${c}`)
      if (c === 'Wasm (Rust code)' && p.rustCrates?.length) out.push(`             by crate: ${p.rustCrates.slice(0, 8).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(', ')}`)
    }
    out.push('    top functions by self time:')
    for (const [f, v] of p.top.slice(0, 15)) out.push(`    ${v.toFixed(1).padStart(7)}  ${f.slice(0, 110)}`)
  }
  return out
}
