// Stress script for push liveness (issue 11): runs the scenario of tests/support/push-liveness.mjs
// many times in a row against one server and prints, per run and in total, how many pushes got no
// answer. Not a test: it reports counts, it asserts nothing about time.
//
//   npm run stress -- [--runs 30] [--target ours|ref|URL] [--duration-ms 10000] [--hang-ms 30000]
//
// `ours` starts our build (build/ must exist) under wrangler dev, `ref` the published reference
// server; a URL uses a server that is already running. Frames of every unanswered push are printed,
// and all frames of such a run are written to a JSON file under the OS temp folder.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

import { WebSocket as WsWebSocket } from 'ws'

import { MAX_BATCH, describeUnanswered, runPushLiveness } from '../tests/support/push-liveness.mjs'
import { startServer } from '../tests/support/wrangler-dev.mjs'

globalThis.WebSocket ??= WsWebSocket

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    target: { type: 'string', default: 'ours' },
    'duration-ms': { type: 'string', default: '10000' },
    'hang-ms': { type: 'string', default: '30000' },
    writers: { type: 'string', default: '8' },
    'keep-logs': { type: 'boolean', default: false },
  },
})
const runs = Number(opts.runs)
let server
if (opts.target === 'ours' || opts.target === 'ref') {
  server = await startServer({ kind: opts.target, env: opts.target === 'ours' ? { AUTH_MODE: 'none' } : {}, tag: 'stress', keepLogs: opts['keep-logs'] })
  if (opts['keep-logs']) console.log(`server log: ${server.logFile}`)
}
const url = server?.url ?? opts.target
console.log(`push liveness: ${runs} runs against ${opts.target} (${url}), ${opts.writers} writers + 1 reader, ${opts['duration-ms']} ms each`)

let unansweredRuns = 0
let unansweredPushes = 0
let otherProblems = 0
const totals = { pushes: 0, accepted: 0, serverAhead: 0 }
try {
  for (let i = 1; i <= runs; i++) {
    const r = await runPushLiveness({
      url,
      writers: Number(opts.writers),
      durationMs: Number(opts['duration-ms']),
      hangMs: Number(opts['hang-ms']),
    })
    totals.pushes += r.pushes
    totals.accepted += r.accepted
    totals.serverAhead += r.serverAhead
    const problems = []
    if (r.unanswered.length) problems.push(`${r.unanswered.length} unanswered`)
    if (r.stalled.length) problems.push(`${r.stalled.length} stalled live pulls`)
    if (r.otherFailures.length) problems.push(`failures: ${r.otherFailures.map((f) => f.error).join(', ')}`)
    if (!r.converged) problems.push('live pulls did not converge')
    if (!r.logIntact) problems.push('log is not one chain')
    // at most one batch per push whose answer was lost (retried, or never answered)
    if (r.storedUnacknowledged > MAX_BATCH * (r.retried + r.unanswered.length)) {
      problems.push(`${r.storedUnacknowledged} events stored without their answer`)
    }
    console.log(
      `run ${String(i).padStart(2)}: ${r.pushes} pushes, ${r.accepted} accepted, ${r.serverAhead} ServerAheadError, ` +
        `${r.events} events, ${r.closedByServer} sockets closed by the server (4000), ${r.retried} pushes retried, ` +
        `${r.pullRestarts} pulls restarted, ${r.storedUnacknowledged} events stored without their answer — ${problems.length ? problems.join('; ') : 'ok'}`,
    )
    if (r.unanswered.length) {
      unansweredRuns++
      unansweredPushes += r.unanswered.length
      for (const u of r.unanswered) console.log(describeUnanswered(u))
    }
    if (problems.length) {
      otherProblems += r.unanswered.length ? 0 : 1
      const file = path.join(os.tmpdir(), `push-liveness-${r.storeId}.json`)
      writeFileSync(file, JSON.stringify(r, null, 1))
      console.log(`  frames of every socket of this run: ${file}`)
    }
  }
} finally {
  await server?.stop()
}
console.log(
  `\n${runs} runs: ${unansweredRuns} with a push that got no answer (${unansweredPushes} pushes in all); ` +
    `${otherProblems} runs with other problems; ${totals.pushes} pushes, ${totals.accepted} accepted, ${totals.serverAhead} ServerAheadError`,
)
process.exit(unansweredRuns || otherProblems ? 1 : 0)
