// Push then pull: events come back with server createdAt metadata; the pull cursor is exclusive.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ISO_RE, Option, evRange, freshStoreId, makeClient, useServer } from './harness.mjs'

const server = useServer()

test('push 3 events, pull them back from None and from a cursor', async () => {
  const storeId = freshStoreId('pushpull')
  const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
  const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
  try {
    const batch = evRange(1, 3)
    batch[1].args = { nested: { list: [1, 'two', null, true], n: 1.5 }, unicode: 'héllo 🌍' }
    const before = Date.now()
    await A.push(batch)
    const after = Date.now()

    const items = await B.collectPull()
    assert.equal(items.length, 1)
    assert.deepEqual(items[0].pageInfo, { _tag: 'NoMore' })
    assert.deepEqual(
      items[0].batch.map((b) => b.eventEncoded),
      batch,
    )
    const createdAts = items[0].batch.map((b) => {
      assert.ok(Option.isSome(b.metadata), 'metadata is Some')
      assert.equal(b.metadata.value._tag, 'SyncMessage.SyncMetadata')
      assert.match(b.metadata.value.createdAt, ISO_RE)
      return b.metadata.value.createdAt
    })
    assert.equal(new Set(createdAts).size, 1, 'one push shares one createdAt')
    const t = Date.parse(createdAts[0])
    assert.ok(t >= before - 60_000 && t <= after + 60_000, `createdAt ${createdAts[0]} near now`)

    // cursor is exclusive: from 1 → 2, 3
    const fromOne = await B.collectPull(1)
    assert.equal(fromOne.length, 1)
    assert.deepEqual(
      fromOne[0].batch.map((b) => b.eventEncoded),
      batch.slice(1),
    )
    assert.deepEqual(fromOne[0].pageInfo, { _tag: 'NoMore' })
    // from 2 → 3
    const fromTwo = await B.collectPull(2)
    assert.deepEqual(
      fromTwo.flatMap((i) => i.batch.map((b) => b.eventEncoded.seqNum)),
      [3],
    )
    // from head → one empty NoMore response
    const fromHead = await B.collectPull(3)
    assert.equal(fromHead.length, 1)
    assert.deepEqual(fromHead[0].batch, [])
    assert.deepEqual(fromHead[0].pageInfo, { _tag: 'NoMore' })

    // a second push continues the chain and gets its own createdAt
    await A.push(evRange(4, 4))
    const all = await B.collectPull()
    assert.deepEqual(
      all.flatMap((i) => i.batch.map((b) => b.eventEncoded.seqNum)),
      [1, 2, 3, 4],
    )
  } finally {
    await A.close()
    await B.close()
  }
})
