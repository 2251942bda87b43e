// Linked chains with gaps in their numbering (issue 19): LiveStore's own conformance suite pushes
// from the root a chain that starts at seqNum 100. Such chains are accepted on every transport and
// both storages (the suite runs under E2E_STORAGE=d1 too), pulled back in order with `remaining`
// counting events (not numbers), paged over a gapped log, resumed from a cursor inside a gap, and
// exported then imported as they are.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { DEFAULT_VARS, STORAGE, TARGET, eventsOf, freshStoreId, httpPull, httpPush, rawCollectPull, rawConnect, rawHttp, rawPush } from './harness.mjs'
import { doRpcPull, doRpcPush, eventsOfAnswer, exitOfAnswer, startDoRpc, supportsDoRpc } from '../support/do-rpc-client.mjs'

const ADMIN_SECRET = 'an-admin-secret-for-the-gap-tests-0000'

let rig
before(async () => {
  rig = await startDoRpc({
    kind: TARGET,
    env: { ...DEFAULT_VARS[TARGET], ...(TARGET === 'ours' ? { ADMIN_SECRET } : {}), ...(TARGET === 'ours' && STORAGE === 'd1' ? { STORAGE: 'd1' } : {}) },
    d1: STORAGE === 'd1',
    keepLogs: Boolean(process.env.E2E_KEEP_LOGS),
    tag: 'e2e-gaps',
  })
})
after(async () => {
  await rig?.stop()
})

/** Events with these seqNums, each the child of the previous one (`parent` for the first). */
const chain = (seqNums, parent, label = 'gap') => {
  let prev = parent
  return seqNums.map((seqNum) => {
    const e = { name: 'todoCreated-v1', args: { id: `${label}-${seqNum}` }, seqNum, parentSeqNum: prev, clientId: 'client-G', sessionId: 'session-G' }
    prev = seqNum
    return e
  })
}
/** 100, then 100 + 3k: a gapped log of `n` events. */
const gappedSeqs = (n) => Array.from({ length: n }, (_, i) => 100 + 3 * i)

const wsPull = async (storeId, cursor, backendId) => {
  const conn = await rawConnect(rig.server, { storeId })
  try {
    return await rawCollectPull(conn, { storeId, cursor, backendId })
  } finally {
    await conn.close()
  }
}

test('a gapped chain from the root is accepted over WebSocket, HTTP and DO-RPC, and the head is its last seqNum', async () => {
  const seqs = gappedSeqs(30)
  const stores = { ws: freshStoreId('gap-ws'), http: freshStoreId('gap-http'), rpc: freshStoreId('gap-rpc') }
  // WebSocket
  const conn = await rawConnect(rig.server, { storeId: stores.ws })
  try {
    assert.deepEqual(await rawPush(conn, { storeId: stores.ws, batch: chain(seqs.slice(0, 10), 0) }), { _tag: 'Success', value: {} })
    assert.deepEqual(await rawPush(conn, { storeId: stores.ws, batch: chain(seqs.slice(10), seqs[9]) }), { _tag: 'Success', value: {} })
    // a parent inside a gap is not the head
    const behind = await rawPush(conn, { storeId: stores.ws, batch: chain([seqs.at(-1) + 1], seqs.at(-1) - 1) })
    assert.equal(behind.cause.error._tag, 'ServerAheadError')
    assert.equal(behind.cause.error.minimumExpectedNum, seqs.at(-1))
  } finally {
    await conn.close()
  }
  // HTTP
  for (const [batch, i] of [[chain(seqs.slice(0, 10), 0), 0], [chain(seqs.slice(10), seqs[9]), 1]]) {
    const res = await rawHttp(rig.server, { storeId: stores.http, body: httpPush(stores.http, batch) })
    assert.deepEqual(res.json?.at(-1)?.exit, { _tag: 'Success', value: {} }, `http push ${i}: ${res.text.slice(0, 300)}`)
  }
  // DO-RPC
  if (supportsDoRpc(TARGET)) {
    for (const batch of [chain(seqs.slice(0, 10), 0), chain(seqs.slice(10), seqs[9])]) {
      const answer = await rig.rawRpc(stores.rpc, { messages: [doRpcPush({ storeId: stores.rpc, batch })] })
      assert.equal(exitOfAnswer(answer)?.exit?._tag, 'Success', JSON.stringify(answer).slice(0, 300))
    }
  }
  for (const [transport, storeId] of Object.entries(stores)) {
    if (transport === 'rpc' && !supportsDoRpc(TARGET)) continue
    const pulled = await wsPull(storeId)
    assert.deepEqual(eventsOf(pulled.responses).map((e) => e.seqNum), seqs, `${transport}: every event once, in order`)
    // pulled back over the other transports too
    const http = await rawHttp(rig.server, { storeId, body: httpPull(storeId) })
    assert.deepEqual(http.json.filter((f) => f._tag === 'Chunk').flatMap((c) => c.values[0].batch.map((b) => b.eventEncoded.seqNum)), seqs)
    if (supportsDoRpc(TARGET)) {
      const answer = await rig.rawRpc(storeId, { messages: [doRpcPull({ storeId })] })
      assert.deepEqual(eventsOfAnswer(answer).map((e) => e.seqNum), seqs)
    }
  }
})

test('pagination over a gapped log: remaining counts events, a cursor inside a gap resumes after it', async () => {
  const storeId = freshStoreId('gap-pages')
  const seqs = gappedSeqs(1_250)
  const conn = await rawConnect(rig.server, { storeId })
  try {
    for (let i = 0; i < seqs.length; i += 125) {
      const exit = await rawPush(conn, { storeId, batch: chain(seqs.slice(i, i + 125), i === 0 ? 0 : seqs[i - 1]) })
      assert.deepEqual(exit, { _tag: 'Success', value: {} })
    }
    const { responses } = await rawCollectPull(conn, { storeId })
    assert.deepEqual(eventsOf(responses).map((e) => e.seqNum), seqs)
    // remaining after each page is the number of events still to come
    let left = seqs.length
    for (const r of responses) {
      left -= r.batch.length
      assert.deepEqual(r.pageInfo, left > 0 ? { _tag: 'MoreKnown', remaining: left } : { _tag: 'NoMore' })
    }
    // a cursor that is no event's seqNum (inside a gap) resumes with the next event
    const backendId = responses[0].backendId
    const from = await rawCollectPull(conn, { storeId, cursor: 1_001, backendId })
    const expected = seqs.filter((s) => s > 1_001)
    assert.deepEqual(eventsOf(from.responses).map((e) => e.seqNum), expected)
    assert.deepEqual(from.responses[0].pageInfo, expected.length > 100 ? { _tag: 'MoreKnown', remaining: expected.length - from.responses[0].batch.length } : { _tag: 'NoMore' })
  } finally {
    await conn.close()
  }
})

test('a gapped log is exported and imported as it is', { skip: TARGET === 'ref' ? 'the reference has no admin API' : undefined }, async () => {
  const source = freshStoreId('gap-export')
  const target = freshStoreId('gap-import')
  const seqs = gappedSeqs(40)
  const conn = await rawConnect(rig.server, { storeId: source })
  try {
    assert.deepEqual(await rawPush(conn, { storeId: source, batch: chain(seqs, 0) }), { _tag: 'Success', value: {} })
  } finally {
    await conn.close()
  }
  const admin = (path, init = {}) => fetch(`${rig.server.url}/admin/stores/${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_SECRET}`, ...init.headers } })
  const exported = await (await admin(`${encodeURIComponent(source)}/events?since=0`)).text()
  assert.equal(exported.trim().split('\n').length, 40)
  const imported = await admin(`${encodeURIComponent(target)}/events`, { method: 'POST', body: exported })
  assert.equal(imported.status, 200, await imported.clone().text())
  assert.deepEqual(await imported.json(), { imported: 40, head: seqs.at(-1) })
  const pulled = eventsOf((await wsPull(target)).responses)
  assert.deepEqual(pulled.map((e) => [e.seqNum, e.parentSeqNum]), seqs.map((s, i) => [s, i === 0 ? 0 : seqs[i - 1]]))
  // a gapped import whose links are broken is refused whole, naming the line
  const broken = exported.replace(`"parentSeqNum":${seqs[5]}`, `"parentSeqNum":${seqs[5] + 1}`)
  const refused = await admin(`${encodeURIComponent(freshStoreId('gap-broken'))}/events`, { method: 'POST', body: broken })
  assert.equal(refused.status, 400)
  assert.match((await refused.json()).error, /^line 7:/)
})
