// Hostile input over a real socket: every frame shape a client could send gets a clear Defect or
// RPC failure, nothing is stored, and the socket keeps serving. Ours-only where the reference
// misbehaves (non-numeric ids, t19; reused ids hold up the socket, PROTOCOL.md 3.2).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { evRange, freshStoreId, oursOnly, rawCollectPull, rawConnect, rawPush, seqNumsOf, useServer } from './harness.mjs'

const MAX_MESSAGE_BYTES = 200_000
const server = useServer({ env: { MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) } })

/** Sends one frame and returns the next message received after it (parsed JSON, or text). */
const answer = async (conn, frame, what) => {
  const before = conn.messages.length
  if (typeof frame === 'string') conn.sendRaw(frame)
  else conn.ws.send(frame)
  return conn.waitFor((_m, raw) => conn.messages.indexOf(raw) >= before, 5000, what)
}

test('every hostile frame gets a Defect or an RPC failure, stores nothing, and the socket keeps serving', { skip: oursOnly('stops serving a socket after some of these (t19)') }, async () => {
  const storeId = freshStoreId('hostile')
  const conn = await rawConnect(server, { storeId })
  try {
    const backendId = (await rawCollectPull(conn, { storeId })).responses[0].backendId
    assert.deepEqual(await rawPush(conn, { storeId, batch: evRange(1, 3), backendId }), { _tag: 'Success', value: {} })

    const defects = {
      'not JSON': '{"_tag":',
      'JSON array': '[{"_tag":"Request"}]',
      'JSON string': '"Ping"',
      'unknown _tag': '{"_tag":"Hello"}',
      'unknown RPC tag': '{"_tag":"Request","id":"1","tag":"SyncWsRpc.Nope","payload":{}}',
      'id of the wrong type': '{"_tag":"Request","id":{"a":1},"tag":"SyncWsRpc.Pull","payload":{}}',
      'missing id': '{"_tag":"Request","tag":"SyncWsRpc.Pull","payload":{}}',
      'deep nesting': `{"_tag":"Request","id":"2","tag":"SyncWsRpc.Push","payload":${'['.repeat(10_000)}}`,
      'over MAX_MESSAGE_BYTES': JSON.stringify({ _tag: 'Request', id: '3', tag: 'SyncWsRpc.Push', payload: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } }),
      'binary frame, invalid UTF-8': Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    }
    for (const [what, frame] of Object.entries(defects)) {
      const m = await answer(conn, frame, what)
      assert.equal(m?._tag, 'Defect', `${what}: ${JSON.stringify(m).slice(0, 200)}`)
      assert.equal(typeof m.defect, 'string', `${what}: the defect says why`)
    }

    const dies = {
      'payload missing': { _tag: 'Request', id: '10', tag: 'SyncWsRpc.Push', headers: [] },
      'batch missing': { _tag: 'Request', id: '11', tag: 'SyncWsRpc.Push', payload: { storeId, backendId: { _tag: 'None' } } },
      'wrong types': { _tag: 'Request', id: '12', tag: 'SyncWsRpc.Push', payload: { storeId: 1, batch: {}, backendId: 'x' } },
      'seqNum not an integer': { _tag: 'Request', id: '13', tag: 'SyncWsRpc.Push', payload: { storeId, batch: [{ ...evRange(4, 4)[0], seqNum: 4.5 }], backendId: { _tag: 'None' } } },
      'live missing': { _tag: 'Request', id: '14', tag: 'SyncWsRpc.Pull', payload: { storeId, cursor: { _tag: 'None' } } },
      'bad Option tag': { _tag: 'Request', id: '15', tag: 'SyncWsRpc.Pull', payload: { storeId, live: false, cursor: { _tag: 'Maybe' } } },
    }
    for (const [what, frame] of Object.entries(dies)) {
      const m = await answer(conn, JSON.stringify(frame), what)
      assert.equal(m?._tag, 'Exit', `${what}: ${JSON.stringify(m).slice(0, 200)}`)
      assert.equal(m.requestId, frame.id, `${what}: the request id is echoed`)
      assert.equal(m.exit.cause._tag, 'Die', what)
    }

    // A broken chain and an event too big to ever be delivered: typed failures, nothing stored.
    const gap = await answer(conn, JSON.stringify({ _tag: 'Request', id: '20', tag: 'SyncWsRpc.Push', payload: { storeId, batch: [...evRange(4, 5), ...evRange(7, 7)], backendId: { _tag: 'Some', value: backendId } }, headers: [] }), 'broken chain')
    assert.equal(gap.exit.cause.error._tag, 'UnknownError')

    // Ids: a non-numeric string and a number are echoed as sent.
    for (const id of ['abc', 42]) {
      const before = conn.messages.length
      conn.send({ _tag: 'Request', id, tag: 'SyncWsRpc.Pull', payload: { storeId, live: false, cursor: { _tag: 'None' } }, headers: [] })
      const exit = await conn.waitFor((m, raw) => conn.messages.indexOf(raw) >= before && m?._tag === 'Exit', 5000, `Exit for id ${id}`)
      assert.deepEqual(exit, { _tag: 'Exit', requestId: id, exit: { _tag: 'Success' } })
    }

    // A reused id of a running live pull is refused; the live pull keeps receiving.
    conn.send({ _tag: 'Request', id: '77', tag: 'SyncWsRpc.Pull', payload: { storeId, live: true, cursor: { _tag: 'None' } }, headers: [] })
    await conn.waitFor((m) => m?._tag === 'Chunk' && m.requestId === '77', 5000, 'live pull history')
    const reused = await answer(conn, JSON.stringify({ _tag: 'Request', id: '77', tag: 'SyncWsRpc.Pull', payload: { storeId, live: false, cursor: { _tag: 'None' } }, headers: [] }), 'reused id')
    assert.equal(reused.exit.cause._tag, 'Die')

    // Binary frames with valid JSON are read as text.
    const pong = await answer(conn, Buffer.from('{ "_tag": "Ping" }'), 'binary Ping')
    assert.deepEqual(pong, { _tag: 'Pong' })

    assert.equal(conn.closeInfo, undefined, 'the socket is still open')
    const before = conn.messages.length
    assert.deepEqual(await rawPush(conn, { storeId, batch: evRange(4, 4), backendId }), { _tag: 'Success', value: {} })
    await conn.waitFor((m, raw) => conn.messages.indexOf(raw) >= before && m?._tag === 'Chunk' && m.requestId === '77', 5000, 'broadcast to the live pull')
    const { responses } = await rawCollectPull(conn, { storeId })
    assert.deepEqual(seqNumsOf(responses), [1, 2, 3, 4], 'only the valid pushes were stored')
  } finally {
    await conn.close()
  }
})
