// Raw-frame robustness. Some of these are places where our server deliberately does better than the
// reference (skipped with E2E_TARGET=ref): PROTOCOL.md 3.2 (non-numeric ids, t19) and 7.3c (t11).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ev, evRange, freshStoreId, nextId, oursOnly, pullRequest, pushRequest, rawCollectPull, rawConnect, rawPush, seqNumsOf, useServer } from './harness.mjs'

const server = useServer()

/** The socket still serves RPCs and Pings. */
const assertServing = async (conn, storeId, expectedSeqs) => {
  const { responses, exit } = await rawCollectPull(conn, { storeId })
  assert.deepEqual(seqNumsOf(responses), expectedSeqs)
  assert.deepEqual(exit, { _tag: 'Success' })
  const before = conn.messages.length
  conn.sendRaw('{ "_tag": "Ping" }')
  await conn.waitFor((m, raw) => conn.messages.indexOf(raw) >= before && m?._tag === 'Pong', 5000, 'Pong')
}

test('malformed JSON gets a Defect frame and the socket keeps serving', async () => {
  const storeId = freshStoreId('malformed')
  const conn = await rawConnect(server, { storeId })
  try {
    await rawPush(conn, { storeId, batch: evRange(1, 2) })
    conn.sendRaw('{not json')
    const defect = await conn.next((m) => m?._tag === 'Defect', 5000, 'Defect for malformed JSON')
    assert.ok('defect' in defect, 'Defect carries a defect field')
    assert.equal(conn.closeInfo, undefined, 'socket not closed')
    await assertServing(conn, storeId, [1, 2])
  } finally {
    await conn.close()
  }
})

test('a JSON array frame and an unknown message _tag get Defect frames; the socket keeps serving', async () => {
  const storeId = freshStoreId('array')
  const conn = await rawConnect(server, { storeId })
  try {
    await rawPush(conn, { storeId, batch: evRange(1, 1) })
    // a Defect whether or not the server unpacks arrays (the element is not a valid message either)
    conn.sendRaw('[{"_tag":"Hello"}]')
    await conn.next((m) => m?._tag === 'Defect', 5000, 'Defect for an array frame')
    conn.sendRaw('{"_tag":"Hello"}')
    await conn.next((m) => m?._tag === 'Defect', 5000, 'Defect for an unknown _tag')
    assert.equal(conn.closeInfo, undefined)
    await assertServing(conn, storeId, [1])
  } finally {
    await conn.close()
  }
})

test(
  'a non-numeric string request id is echoed verbatim and the socket keeps working',
  { skip: oursOnly('silently stops serving RPCs on that socket (transcript 19)') },
  async () => {
    const storeId = freshStoreId('strid')
    const conn = await rawConnect(server, { storeId })
    try {
      conn.send(pushRequest({ id: 'abc', storeId, batch: evRange(1, 2) }))
      const exit = await conn.waitFor((m) => m?._tag === 'Exit' && m.requestId === 'abc', 5000, 'Exit for id "abc"')
      assert.deepEqual(exit.exit, { _tag: 'Success', value: {} })

      conn.send(pullRequest({ id: 'pull-xyz', storeId }))
      const chunk = await conn.waitFor((m) => m?._tag === 'Chunk' && m.requestId === 'pull-xyz', 5000, 'Chunk for id "pull-xyz"')
      assert.deepEqual(seqNumsOf(chunk.values), [1, 2])
      conn.send({ _tag: 'Ack', requestId: 'pull-xyz' })
      const pullExit = await conn.waitFor((m) => m?._tag === 'Exit' && m.requestId === 'pull-xyz', 5000, 'Exit for id "pull-xyz"')
      assert.deepEqual(pullExit.exit, { _tag: 'Success' })

      // numeric-string ids still work on the same socket
      assert.deepEqual(await rawPush(conn, { storeId, batch: [ev(3, 2)] }), { _tag: 'Success', value: {} })
      await assertServing(conn, storeId, [1, 2, 3])
    } finally {
      await conn.close()
    }
  },
)

test(
  'a push that fails part-way stores nothing; the next correct push succeeds',
  { skip: oursOnly('inserts in 14-row statements without a transaction and wedges the store (transcript 11)') },
  async () => {
    const storeId = freshStoreId('atomic')
    const conn = await rawConnect(server, { storeId })
    try {
      assert.deepEqual(await rawPush(conn, { storeId, batch: evRange(1, 5) }), { _tag: 'Success', value: {} })
      const { responses } = await rawCollectPull(conn, { storeId })
      const backendId = responses[0].backendId

      // parent 5 (= head), seqNums 6..20, then a duplicate 6 at the end
      const bad = [...evRange(6, 20), ev(6, 20)]
      const failed = await rawPush(conn, { storeId, batch: bad, backendId })
      assert.equal(failed._tag, 'Failure', `must fail: ${JSON.stringify(failed)}`)

      const after = await rawCollectPull(conn, { storeId })
      assert.deepEqual(seqNumsOf(after.responses), [1, 2, 3, 4, 5], 'nothing of the failed batch was stored')

      // the head did not move: a correct push on parent 5 succeeds
      assert.deepEqual(await rawPush(conn, { storeId, batch: evRange(6, 20), backendId }), { _tag: 'Success', value: {} })
      const final = await rawCollectPull(conn, { storeId })
      assert.deepEqual(
        seqNumsOf(final.responses),
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
    } finally {
      await conn.close()
    }
  },
)
