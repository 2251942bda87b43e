// Push liveness (issue 11): eight published WebSocket clients push batches of 1–4 events for 10 s,
// rebasing on ServerAheadError as LiveStore does, while a ninth only live-pulls. Every push must be
// answered (an Exit, or an error the client retries), no live pull may stall, and all of them must
// converge on one intact log. One run here; `npm run stress` runs it many times and prints counts.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { MAX_BATCH, describeUnanswered, runPushLiveness } from '../support/push-liveness.mjs'
import { ev, freshStoreId, nextId, oursOnly, pullRequest, rawConnect, rawPush, serverLog, useServer, waitFor, waitForLog } from './harness.mjs'

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
  assert.ok(r.sentinelDelivered, 'the sentinel pushed after the writers reached every live pull')
  assert.ok(r.converged, 'every live pull delivered the same events, up to the sentinel (no duplicate, no extra)')
  assert.ok(r.logIntact, 'the log is one chain 1..N')
  // an event is stored without its answer only when its socket closed under the push, which the
  // writer then retried: at most one batch per retried push
  assert.ok(
    r.storedUnacknowledged <= MAX_BATCH * r.retried,
    `${r.storedUnacknowledged} events stored without their answer, ${r.retried} pushes retried`,
  )
})

test('a socket that pings but carries no request is closed with 4000; one with a request, or a silent one, is not', { skip: oursOnly('never closes a socket itself') }, async () => {
  // the suite's servers use FIRST_REQUEST_TIMEOUT_SECONDS=3 (harness DEFAULT_VARS)
  const storeId = freshStoreId('no-request')
  // opened last, so the alarm that closes it has passed the first deadline of the other two
  const silent = await rawConnect(server, { storeId }) // sends nothing at all
  const active = await rawConnect(server, { storeId }) // a live pull, like every LiveStore client
  const orphan = await rawConnect(server, { storeId }) // pings like a published client, nothing else
  let sentinel
  try {
    orphan.sendRaw('{"_tag":"Ping"}')
    const id = nextId()
    active.send(pullRequest({ id, storeId, live: true }))
    await active.waitFor((m) => m?._tag === 'Chunk' && m.requestId === id)
    await waitFor('the orphaned socket to be closed', () => orphan.closeInfo, 15_000)
    assert.deepEqual(orphan.closeInfo, { code: 4000, reason: 'No request on this socket; reconnect' })
    await waitForLog(server, (l) => l.event === 'socket.closed_by_server' && l.store === storeId && l.code === 4000)
    // The sentinel: a second orphaned socket, opened now. The silent socket got another period
    // when an alarm found it due, no later than the one that closed the orphan (opened after it),
    // so the alarm that closes the sentinel rings after that period too: by then every alarm that
    // could close the silent or the active socket has rung.
    sentinel = await rawConnect(server, { storeId })
    sentinel.sendRaw('{"_tag":"Ping"}')
    await waitFor('the sentinel socket to be closed', () => sentinel.closeInfo, 15_000)
    assert.deepEqual(sentinel.closeInfo, { code: 4000, reason: 'No request on this socket; reconnect' })
    // a push on the active socket is a later turn of the object than that alarm: once its log line
    // is there, every close of the alarm is logged before it
    assert.deepEqual(await rawPush(active, { storeId, batch: [ev(1, 0)] }), { _tag: 'Success', value: {} })
    await waitForLog(server, (l) => l.event === 'push' && l.store === storeId && l.head === 1)
    const closes = serverLog(server).filter((l) => l.event === 'socket.closed_by_server' && l.store === storeId)
    assert.deepEqual(closes.map((l) => l.code), [4000, 4000], 'the server closed the two orphaned sockets and no other')
    assert.equal(active.closeInfo, undefined, 'a socket that carried a request stays open')
    assert.equal(silent.closeInfo, undefined, 'a socket whose client never sent a frame is left for later (a close would not reach it)')
  } finally {
    for (const c of [orphan, silent, active, sentinel]) await c?.close()
  }
})
