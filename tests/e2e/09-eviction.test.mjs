// Hibernation / eviction: local workerd evicts an idle Durable Object after ~10 s while keeping its
// hibernatable sockets open. Live pulls started before must still receive later pushes.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { assertEvictedBetween, evRange, freshStoreId, makeClient, nextId, pullRequest, rawConnect, sleep, useServer } from './harness.mjs'

const server = useServer()

const IDLE_MS = Number(process.env.E2E_EVICTION_IDLE_MS ?? 12_000)

test(`live pulls survive ${IDLE_MS / 1000} s of idleness (object eviction)`, async (t) => {
  const storeId = freshStoreId('evict')
  const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
  const raw = await rawConnect(server, { storeId })
  const liveA = A.livePull()
  let B
  try {
    // A: published client live pull; raw: a live pull on a raw socket
    await A.push(evRange(1, 2))
    await liveA.waitForEvents(2)
    const rawId = nextId()
    raw.send(pullRequest({ id: rawId, storeId, live: true }))
    const first = await raw.next((m) => m?._tag === 'Chunk' && m.requestId === rawId, 10_000, 'history chunk')
    raw.send({ _tag: 'Ack', requestId: rawId })
    assert.deepEqual(
      first.values[0].batch.map((b) => b.eventEncoded.seqNum),
      [1, 2],
    )
    const backendId = first.values[0].backendId

    await sleep(IDLE_MS) // nothing but the client's exact pings reaches the object meanwhile

    B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
    const bItems = await B.collectPull()
    assert.equal(await B.storedBackendId(), backendId, 'backendId unchanged after eviction')
    assert.deepEqual(
      bItems.flatMap((i) => i.batch.map((b) => b.eventEncoded.seqNum)),
      [1, 2],
    )
    await B.push(evRange(3, 4, { clientId: 'client-B' }))
    // a fresh instance of the object served this push: it really was evicted
    await assertEvictedBetween(t, server, storeId, 2, 4)

    const got = await liveA.waitForEvents(4, 10_000)
    assert.deepEqual(
      got.map((b) => b.eventEncoded.seqNum),
      [1, 2, 3, 4],
    )
    assert.equal(got[2].eventEncoded.clientId, 'client-B')

    const live = await raw.next((m) => m?._tag === 'Chunk' && m.requestId === rawId, 10_000, 'broadcast chunk on the raw socket')
    raw.send({ _tag: 'Ack', requestId: rawId })
    assert.deepEqual(
      live.values[0].batch.map((b) => b.eventEncoded.seqNum),
      [3, 4],
    )
    assert.equal(live.values[0].backendId, backendId)
    assert.deepEqual(live.values[0].pageInfo, { _tag: 'NoMore' })

    // and A can still push on its old socket (its own live pull gets the echo)
    await A.push(evRange(5, 5))
    await liveA.waitForEvents(5)
    const echo = await raw.next((m) => m?._tag === 'Chunk' && m.requestId === rawId, 10_000, 'second broadcast')
    assert.deepEqual(
      echo.values[0].batch.map((b) => b.eventEncoded.seqNum),
      [5],
    )
  } finally {
    await liveA.stop()
    await A.close()
    await B?.close()
    await raw.close()
  }
})
