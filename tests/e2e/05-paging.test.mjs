// Long histories come back complete and in order over several pages (≤ 100 events per response,
// MoreKnown.remaining counting down, last page NoMore).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { evRange, freshStoreId, makeClient, rawCollectPull, rawConnect, useServer } from './harness.mjs'

const server = useServer()

/** Checks the paging invariants of a complete pull of `total` events starting after `from`. */
const checkPages = (items, { from = 0, total }) => {
  assert.ok(items.length >= Math.ceil(total / 100), `at least ${Math.ceil(total / 100)} responses, got ${items.length}`)
  let delivered = 0
  items.forEach((item, i) => {
    assert.ok(item.batch.length <= 100, `response ${i} has ${item.batch.length} > 100 events`)
    delivered += item.batch.length
    const last = i === items.length - 1
    if (last) {
      assert.deepEqual(item.pageInfo, { _tag: 'NoMore' }, 'last response is NoMore')
    } else {
      assert.ok(item.batch.length > 0, `non-final response ${i} is not empty`)
      assert.deepEqual(item.pageInfo, { _tag: 'MoreKnown', remaining: total - delivered }, `response ${i}: remaining`)
    }
  })
  const seqs = items.flatMap((it) => it.batch.map((b) => b.eventEncoded))
  assert.equal(seqs.length, total)
  seqs.forEach((e, i) => {
    assert.equal(e.seqNum, from + i + 1, `event ${i} seqNum`)
    assert.equal(e.parentSeqNum, from + i, `event ${i} parentSeqNum`)
  })
}

for (const N of [250, 1800]) {
  test(`${N} events: pushed by the client, pulled back in order over several pages`, async () => {
    const storeId = freshStoreId(`paging${N}`)
    const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
    const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
    try {
      const events = evRange(1, N)
      await A.push(events) // the client splits into sequential requests of ≤ 100 events

      const items = await B.collectPull()
      checkPages(items, { total: N })
      assert.deepEqual(
        items.flatMap((it) => it.batch.map((b) => b.eventEncoded)),
        events,
      )
      for (const it of items) for (const b of it.batch) assert.equal(b.metadata._tag, 'Some')

      // from a cursor in the middle
      const from = N - 137
      const tailItems = await B.collectPull(from)
      checkPages(tailItems, { from, total: 137 })
    } finally {
      await A.close()
      await B.close()
    }
  })
}

test('raw: every Chunk carries one PullResponse; backendId in each', async () => {
  const storeId = freshStoreId('paging-raw')
  const A = await makeClient({ url: server.url, storeId })
  const conn = await rawConnect(server, { storeId })
  try {
    await A.push(evRange(1, 420))
    const { responses, frames, exit } = await rawCollectPull(conn, { storeId })
    assert.equal(frames.length, responses.length, 'one PullResponse per Chunk')
    checkPages(responses, { total: 420 })
    assert.equal(new Set(responses.map((r) => r.backendId)).size, 1)
    assert.deepEqual(exit, { _tag: 'Success' })
  } finally {
    await conn.close()
    await A.close()
  }
})
