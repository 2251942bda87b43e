// What the JS entry module (js/entry.mjs: a DurableObject class around the Rust object, needed for
// DO-RPC) costs, measured against worker-build's own entry (build/index.js) in one run, on this
// machine: the bundle wrangler uploads, the server's start, the first request of a new object, an
// object's wake after eviction, and sequential HTTP pushes. The two are measured in turns (A B A B)
// so that the machine's noise hits both alike.
//
//   node scripts/entry-cost.mjs [--rounds 2] [--pushes 200] [--idle-ms 12000]
//
// Needs build/ (npm run build). Prints medians per entry and their ratio.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { startServer } from '../tests/support/wrangler-dev.mjs'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    pushes: { type: 'string', default: '200' },
    'idle-ms': { type: 'string', default: '12000' },
  },
})
const ROUNDS = Number(opts.rounds)
const PUSHES = Number(opts.pushes)
const IDLE_MS = Number(opts['idle-ms'])
const ENTRIES = ['build/index.js', 'js/entry.mjs']

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

let id = 1
const push = (storeId, seqNum) => ({
  _tag: 'Request',
  id: String(id++),
  tag: 'SyncHttpRpc.Push',
  payload: {
    storeId,
    batch: [{ name: 'v1.TodoCreated', args: { id: `t${seqNum}`, text: 'x' }, seqNum, parentSeqNum: seqNum - 1, clientId: 'c', sessionId: 's' }],
    backendId: { _tag: 'None' },
  },
  headers: [],
})

const post = async (url, storeId, body) => {
  const t0 = performance.now()
  const res = await fetch(`${url}/?storeId=${encodeURIComponent(storeId)}&transport=http`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok || !text.includes('"Success"')) throw new Error(`push failed: ${res.status} ${text.slice(0, 300)}`)
  return performance.now() - t0
}

/** Bytes of what `wrangler deploy --dry-run` would upload for `entry`. */
const bundleBytes = (entry) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'entry-cost-'))
  try {
    execFileSync(
      path.join(REPO, 'node_modules/node/bin/node'),
      [path.join(REPO, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out, '--script', entry],
      { cwd: REPO, stdio: 'ignore', env: { ...process.env, SKIP_BUILD: '1', WRANGLER_SEND_METRICS: 'false' } },
    )
    const files = readdirSync(out).filter((f) => !f.endsWith('.map'))
    return Object.fromEntries(files.map((f) => [f, statSync(path.join(out, f)).size]))
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

const results = Object.fromEntries(ENTRIES.map((e) => [e, { start: [], firstRequest: [], wake: [], push: [] }]))

for (let round = 0; round < ROUNDS; round++) {
  for (const entry of round % 2 ? [...ENTRIES].reverse() : ENTRIES) {
    const r = results[entry]
    const t0 = performance.now()
    const server = await startServer({ kind: 'ours', ourEntry: entry, env: { AUTH_MODE: 'none' }, tag: 'entry-cost' })
    r.start.push(performance.now() - t0)
    try {
      // a new object per store: construction + first storage access
      for (let k = 0; k < 5; k++) r.firstRequest.push(await post(server.url, `entry-new-${round}-${k}-${Date.now()}`, push('x', 1)))
      const storeId = `entry-${round}-${Date.now()}`
      await post(server.url, storeId, push(storeId, 1))
      for (let n = 2; n <= PUSHES + 1; n++) r.push.push(await post(server.url, storeId, push(storeId, n)))
      await sleep(IDLE_MS) // local workerd evicts an idle object after ~10 s
      r.wake.push(await post(server.url, storeId, push(storeId, PUSHES + 2)))
    } finally {
      await server.stop()
    }
    console.error(`round ${round + 1}/${ROUNDS} ${entry} done`)
  }
}

const fmt = (ms) => `${ms.toFixed(1)} ms`
console.log(`JS entry cost, ${new Date().toISOString()}, ${os.cpus().length} cores, ${ROUNDS} rounds, ${PUSHES} pushes each`)
const sizes = Object.fromEntries(ENTRIES.map((e) => [e, bundleBytes(e)]))
for (const e of ENTRIES) console.log(`bundle ${e}: ${JSON.stringify(sizes[e])}`)
console.log(['', ...ENTRIES, 'ratio'].join(' | '))
for (const key of ['start', 'firstRequest', 'wake', 'push']) {
  const [a, b] = ENTRIES.map((e) => median(results[e][key]))
  console.log([`${key} (median)`, fmt(a), fmt(b), (b / a).toFixed(2)].join(' | '))
}
