// BackendIdMismatchError on push and on pull when the client's backendId is not the server's.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { encodedFailure, ev, evRange, failureOf, freshStoreId, makeClient, nextId, pullRequest, rawCollectPull, rawConnect, rawPush, seqNumsOf, useServer } from './harness.mjs'

const server = useServer()

const STALE = 'stale-backend-id-0000'

/** Creates a store with 3 events and returns its backendId. */
const seed = async (storeId) => {
  const conn = await rawConnect(server, { storeId })
  try {
    await rawPush(conn, { storeId, batch: evRange(1, 3) })
    const { responses } = await rawCollectPull(conn, { storeId })
    return responses[0].backendId
  } finally {
    await conn.close()
  }
}

test('published client with a stale stored backendId: pull and push fail with BackendIdMismatchError', async () => {
  const storeId = freshStoreId('mismatch')
  const backendId = await seed(storeId)
  const C = await makeClient({ url: server.url, storeId, clientId: 'client-C', kv: { backendId: STALE } })
  try {
    const pullExit = await C.collectPullExit(3)
    const pullErr = failureOf(pullExit)
    assert.ok(pullErr, `pull must fail, got ${JSON.stringify(pullExit)}`)
    assert.equal(pullErr._tag, 'BackendIdMismatchError')
    assert.equal(pullErr.expected, backendId)
    assert.equal(pullErr.received, STALE)

    const pushExit = await C.pushExit([ev(4, 3, { clientId: 'client-C' })])
    const pushErr = failureOf(pushExit)
    assert.ok(pushErr, `push must fail, got ${JSON.stringify(pushExit)}`)
    assert.equal(pushErr._tag, 'BackendIdMismatchError')
    assert.equal(pushErr.expected, backendId)
    assert.equal(pushErr.received, STALE)
  } finally {
    await C.close()
  }
  // nothing was stored by the refused push
  const conn = await rawConnect(server, { storeId })
  try {
    const { responses } = await rawCollectPull(conn, { storeId })
    assert.deepEqual(
      seqNumsOf(responses),
      [1, 2, 3],
    )
  } finally {
    await conn.close()
  }
})

test('raw: mismatching backendId on push (even with a wrong parent) and on a live pull', async () => {
  const storeId = freshStoreId('mismatch-raw')
  const backendId = await seed(storeId)
  const conn = await rawConnect(server, { storeId })
  try {
    // backendId is checked before the parent
    const push = await rawPush(conn, { storeId, batch: [ev(9, 8)], backendId: STALE })
    assert.deepEqual(encodedFailure(push), { _tag: 'BackendIdMismatchError', expected: backendId, received: STALE })

    // a live pull with a foreign backendId fails at once, without any Chunk
    const id = nextId()
    conn.send(pullRequest({ id, storeId, cursor: 2, backendId: STALE, live: true }))
    const exit = await conn.waitFor((m) => m?._tag === 'Exit' && m.requestId === id, 10_000, 'Exit of the live pull')
    assert.deepEqual(encodedFailure(exit.exit), { _tag: 'BackendIdMismatchError', expected: backendId, received: STALE })
    assert.equal(
      conn.messages.filter((m) => m.json?._tag === 'Chunk' && m.json.requestId === id).length,
      0,
      'no Chunk for the refused pull',
    )

    // the right backendId works on the same socket
    const ok = await rawPush(conn, { storeId, batch: [ev(4, 3)], backendId })
    assert.deepEqual(ok, { _tag: 'Success', value: {} })
    const { responses } = await rawCollectPull(conn, { storeId, cursor: 3, backendId })
    assert.deepEqual(
      seqNumsOf(responses),
      [4],
    )
  } finally {
    await conn.close()
  }
})
