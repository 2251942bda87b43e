// Push liveness (issue 11): eight published WebSocket clients push batches of 1–4 events for 10 s,
// rebasing on ServerAheadError as LiveStore does, while a ninth only live-pulls. Every push must be
// answered (an Exit, or an error the client retries), no live pull may stall, and all of them must
// converge on one intact log. One run here; `npm run stress` runs it many times and prints counts.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { describeUnanswered, runPushLiveness } from '../support/push-liveness.mjs'
import { useServer } from './harness.mjs'

const server = useServer()

test('eight concurrent writers for 10 s: every push answered, every live pull converges', async (t) => {
  const r = await runPushLiveness({ url: server.url, writers: 8, durationMs: 10_000, hangMs: 30_000 })
  t.diagnostic(
    `${r.pushes} pushes, ${r.accepted} accepted, ${r.serverAhead} ServerAheadError, ${r.events} events, ` +
      `${r.closedByServer} orphaned sockets closed by the server, ${r.retried} pushes retried, ${r.pullRestarts} pulls restarted`,
  )
  assert.deepEqual(r.unanswered.map(describeUnanswered), [], 'every push got an answer')
  assert.deepEqual(r.stalled, [], 'no live pull stalled')
  assert.deepEqual(r.otherFailures, [], 'no other failure')
  assert.ok(r.accepted > 0)
  assert.ok(r.converged, 'every live pull delivered the same events')
  assert.ok(r.logIntact, 'the log is one chain 1..N')
})
