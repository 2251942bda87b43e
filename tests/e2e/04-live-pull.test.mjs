// Live pull: a pusher's events reach every live puller, including the pusher's own live pull.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ISO_RE, ev, evRange, freshStoreId, makeClient, useServer, waitFor } from './harness.mjs'

const server = useServer()

test('B live-pulls, A pushes: B receives the events and A gets its echo', async () => {
  const storeId = freshStoreId('live')
  const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
  const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
  const liveA = A.livePull()
  const liveB = B.livePull()
  try {
    // wait for the (empty) history part of both live pulls
    for (const l of [liveA, liveB]) {
      await waitFor('the history part of the live pull', () => l.items.length > 0, 10_000)
      assert.equal(l.items.length, 1, 'history part: one item')
      assert.deepEqual(l.items[0].batch, [])
      assert.deepEqual(l.items[0].pageInfo, { _tag: 'NoMore' })
    }

    const batch = evRange(1, 2)
    await A.push(batch)
    const gotB = await liveB.waitForEvents(2)
    const gotA = await liveA.waitForEvents(2)
    assert.deepEqual(
      gotB.map((b) => b.eventEncoded),
      batch,
    )
    assert.deepEqual(
      gotA.map((b) => b.eventEncoded),
      batch,
    )
    for (const b of [...gotA, ...gotB]) assert.match(b.metadata.value.createdAt, ISO_RE)
    assert.equal(gotA[0].metadata.value.createdAt, gotB[0].metadata.value.createdAt)

    // B pushes one event without args; A receives it live
    const noArgs = { name: 'noArgsEvent-v1', seqNum: 3, parentSeqNum: 2, clientId: 'client-B', sessionId: 'session-B1' }
    await B.push([noArgs])
    const [, , third] = await liveA.waitForEvents(3)
    assert.equal(third.eventEncoded.seqNum, 3)
    assert.equal(third.eventEncoded.name, 'noArgsEvent-v1')
    assert.equal(third.eventEncoded.clientId, 'client-B')
    assert.ok(third.eventEncoded.args == null, 'args absent or null')
    await liveB.waitForEvents(3)

    // a live pull started from a cursor gets only newer history, then live events
    const C = await makeClient({ url: server.url, storeId, clientId: 'client-C' })
    try {
      await C.collectPull() // learn backendId (needed for a cursor)
      const liveC = C.livePull(2)
      const [first] = await liveC.waitForEvents(1)
      assert.equal(first.eventEncoded.seqNum, 3)
      await A.push([ev(4, 3)])
      const cEvents = await liveC.waitForEvents(2)
      assert.deepEqual(
        cEvents.map((b) => b.eventEncoded.seqNum),
        [3, 4],
      )
      await liveC.stop()
    } finally {
      await C.close()
    }
    // every live puller saw every event exactly once, in order. A sentinel (event 5, pushed by B)
    // closes the check: broadcasts leave in log order, so once it has arrived, any duplicate or
    // extra delivery of events 1–4 has arrived before it
    await liveA.waitForEvents(4)
    await liveB.waitForEvents(4)
    const sentinel = ev(5, 4, { clientId: 'client-B', sessionId: 'session-B1', args: { id: 'sentinel', text: 'sentinel' } })
    await B.push([sentinel])
    for (const [name, l] of [
      ['A', liveA],
      ['B', liveB],
    ]) {
      await waitFor(`the sentinel (event 5) on ${name}'s live pull`, () => l.events().some((b) => b.eventEncoded.seqNum === 5), 10_000, {
        observe: () => l.events().map((b) => b.eventEncoded.seqNum),
      })
      assert.deepEqual(
        l.events().map((b) => b.eventEncoded.seqNum),
        [1, 2, 3, 4, 5],
        `${name}'s live pull: events 1–4 exactly once, in order, then the sentinel`,
      )
      assert.deepEqual(l.events().at(-1).eventEncoded, sentinel)
    }
  } finally {
    await liveA.stop()
    await liveB.stop()
    await A.close()
    await B.close()
  }
})
