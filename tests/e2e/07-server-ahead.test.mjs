// ServerAheadError: a push whose first parentSeqNum is not the server head is refused, nothing stored.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { encodedFailure, ev, evRange, failureOf, freshStoreId, makeClient, rawCollectPull, rawConnect, rawPush, seqNumsOf, useServer } from './harness.mjs'

const server = useServer()

test('published client: stale parent → ServerAheadError{minimumExpectedNum: head, providedNum: parent}', async () => {
  const storeId = freshStoreId('ahead')
  const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
  const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
  try {
    await A.push(evRange(1, 3))
    // B has never pulled: it pushes its own first event with parent 0
    const exit = await B.pushExit([ev(1, 0, { clientId: 'client-B' })])
    const err = failureOf(exit)
    assert.ok(err, `push must fail, got ${JSON.stringify(exit)}`)
    assert.equal(err._tag, 'ServerAheadError')
    assert.equal(err.minimumExpectedNum, 3)
    assert.equal(err.providedNum, 0)

    // nothing of B's was stored
    const items = await B.collectPull()
    const events = items.flatMap((i) => i.batch.map((b) => b.eventEncoded))
    assert.deepEqual(events, evRange(1, 3))

    // after catching up B can push on top of the head
    await B.push([ev(4, 3, { clientId: 'client-B' })])
    const after = await B.collectPull(3)
    assert.deepEqual(
      after.flatMap((i) => i.batch.map((b) => b.eventEncoded.clientId)),
      ['client-B'],
    )
  } finally {
    await A.close()
    await B.close()
  }
})

test('raw: parent behind and parent ahead of the head both give ServerAheadError', async () => {
  const storeId = freshStoreId('ahead-raw')
  const conn = await rawConnect(server, { storeId })
  try {
    assert.deepEqual(await rawPush(conn, { storeId, batch: evRange(1, 3) }), { _tag: 'Success', value: {} })

    const behind = await rawPush(conn, { storeId, batch: [ev(2, 1)] })
    assert.equal(behind._tag, 'Failure')
    assert.deepEqual(encodedFailure(behind), { _tag: 'ServerAheadError', minimumExpectedNum: 3, providedNum: 1 })
    assert.deepEqual(behind.cause, {
      _tag: 'Fail',
      error: { minimumExpectedNum: 3, providedNum: 1, _tag: 'ServerAheadError' },
    })

    const ahead = await rawPush(conn, { storeId, batch: [ev(6, 5)] })
    assert.deepEqual(encodedFailure(ahead), { _tag: 'ServerAheadError', minimumExpectedNum: 3, providedNum: 5 })

    const { responses } = await rawCollectPull(conn, { storeId })
    assert.deepEqual(
      seqNumsOf(responses),
      [1, 2, 3],
    )
  } finally {
    await conn.close()
  }
})
