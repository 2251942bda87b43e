// Empty pull on a fresh store: exactly one empty NoMore response carrying a nanoid backendId.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { BACKEND_ID_RE, freshStoreId, makeClient, rawCollectPull, rawConnect, useServer } from './harness.mjs'

const server = useServer()

test('published client: non-live pull of a fresh store yields one empty NoMore item', async () => {
  const client = await makeClient({ url: server.url, storeId: freshStoreId('empty') })
  try {
    const items = await client.collectPull()
    assert.equal(items.length, 1)
    assert.deepEqual(items[0].batch, [])
    assert.deepEqual(items[0].pageInfo, { _tag: 'NoMore' })
    const backendId = await client.storedBackendId()
    assert.match(backendId, BACKEND_ID_RE, 'client stored a 21-char nanoid backendId')
    // pulling again: same result, same backendId
    const again = await client.collectPull()
    assert.equal(again.length, 1)
    assert.deepEqual(again[0].batch, [])
    assert.equal(await client.storedBackendId(), backendId)
  } finally {
    await client.close()
  }
})

test('raw: one Chunk with one empty PullResponse, then Exit Success; backendId stable per store', async () => {
  const storeId = freshStoreId('empty-raw')
  const conn = await rawConnect(server, { storeId })
  try {
    const { responses, exit, frames } = await rawCollectPull(conn, { storeId })
    assert.equal(frames.length, 1, 'exactly one Chunk')
    assert.equal(responses.length, 1, 'one PullResponse in the Chunk')
    const [r] = responses
    assert.deepEqual(r.batch, [])
    assert.deepEqual(r.pageInfo, { _tag: 'NoMore' })
    assert.equal(typeof r.backendId, 'string')
    assert.match(r.backendId, BACKEND_ID_RE)
    assert.deepEqual(exit, { _tag: 'Success' })

    const second = await rawCollectPull(conn, { storeId })
    assert.equal(second.responses[0].backendId, r.backendId, 'same backendId on the same store')

    // another store has its own backendId
    const otherId = freshStoreId('empty-other')
    const other = await rawConnect(server, { storeId: otherId })
    try {
      const o = await rawCollectPull(other, { storeId: otherId })
      assert.match(o.responses[0].backendId, BACKEND_ID_RE)
      assert.notEqual(o.responses[0].backendId, r.backendId)
    } finally {
      await other.close()
    }
  } finally {
    await conn.close()
  }
})
