// The D1 storage option (STORAGE=d1): the reference's layout, so a D1 database written by the
// TypeScript server is served unchanged by ours and the other way round; a store's storage never
// changes silently (STORAGE changed under existing data is refused with a reason, in both
// directions); no two storeIds share a D1 table (in any letter case); pages of large events
// stay within a D1 response. (The rest of the suite runs against D1 too: E2E_STORAGE=d1.)
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'

import { STORAGE, TARGET, evRange, freshStoreId, httpPull, rawCollectPull, rawConnect, rawHttp, rawPush, startServer } from './harness.mjs'

const SKIP = TARGET === 'ref' ? 'compares ours with the reference itself' : STORAGE === 'd1' ? 'runs once, in the default pass' : undefined

const dirs = []
const servers = []
after(async () => {
  for (const s of servers) await s.stop().catch(() => {})
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'e2e-d1-'))
  dirs.push(d)
  return d
}
const start = async (o) => {
  const s = await startServer(o)
  servers.push(s)
  return s
}

const pullAll = async (server, storeId) => {
  const conn = await rawConnect(server, { storeId })
  try {
    return await rawCollectPull(conn, { storeId })
  } finally {
    await conn.close()
  }
}
const push = async (server, storeId, batch, backendId) => {
  const conn = await rawConnect(server, { storeId })
  try {
    return await rawPush(conn, { storeId, batch, backendId })
  } finally {
    await conn.close()
  }
}
const events = (r) => r.responses.flatMap((x) => x.batch)

test('a D1 database written by the reference is served by ours, and ours by the reference', { skip: SKIP }, async () => {
  const dir = tempDir()
  const storeId = freshStoreId('d1-compat')
  const ref = await start({ kind: 'ref', persistTo: dir, storage: 'd1' })
  assert.deepEqual(await push(ref, storeId, evRange(1, 150)), { _tag: 'Success', value: {} })
  assert.deepEqual(await push(ref, storeId, [{ name: 'noArgs-v1', seqNum: 151, parentSeqNum: 150, clientId: 'c', sessionId: 's' }]), { _tag: 'Success', value: {} })
  const written = await pullAll(ref, storeId)
  const backendId = written.responses[0].backendId
  await ref.stop()

  const ours = await start({ kind: 'ours', persistTo: dir, storage: 'd1' })
  const read = await pullAll(ours, storeId)
  // identical, but for the event without args: the reference's history says "args":null, we send
  // it as it was pushed (PROTOCOL.md 4.3)
  const expected = events(written).map((b) => {
    if (b.eventEncoded.seqNum !== 151) return b
    const { args, ...rest } = b.eventEncoded
    assert.equal(args, null)
    return { ...b, eventEncoded: rest }
  })
  assert.deepEqual(events(read), expected, 'same events, args and createdAt')
  assert.equal(read.responses[0].backendId, backendId, 'same backendId (context_7 in the object SQLite)')
  assert.deepEqual(await push(ours, storeId, evRange(152, 160), backendId), { _tag: 'Success', value: {} })
  await ours.stop()

  const refAgain = await start({ kind: 'ref', persistTo: dir, storage: 'd1' })
  const back = events(await pullAll(refAgain, storeId))
  assert.deepEqual(back.map((b) => b.eventEncoded.seqNum), Array.from({ length: 160 }, (_, i) => i + 1), 'the reference reads what ours wrote')
  assert.deepEqual(back.slice(151).map((b) => b.eventEncoded), evRange(152, 160))
  assert.deepEqual(await push(refAgain, storeId, evRange(161, 161), backendId), { _tag: 'Success', value: {} }, 'and takes the next push at our head')
})

test('changing STORAGE under existing data is refused with a reason, both ways', { skip: SKIP }, async () => {
  const dir = tempDir()
  const local = freshStoreId('d1-was-local')
  const remote = freshStoreId('d1-was-d1')
  // written with DO SQLite (the D1 binding present but unused), then with D1
  let s = await start({ kind: 'ours', persistTo: dir, storage: 'do-sqlite' })
  assert.deepEqual(await push(s, local, evRange(1, 3)), { _tag: 'Success', value: {} })
  await s.stop()
  s = await start({ kind: 'ours', persistTo: dir, storage: 'd1' })
  assert.deepEqual(await push(s, remote, evRange(1, 4)), { _tag: 'Success', value: {} })
  // STORAGE=d1 over a store that lives in the object's SQLite
  const refused = await rawHttp(s, { storeId: local, body: httpPull(local) })
  assert.equal(refused.status, 500)
  assert.match(refused.text, /3 events in the Durable Object's own SQLite \(STORAGE=do-sqlite\), but STORAGE=d1: refusing to serve it as an empty store/)
  await assert.rejects(rawConnect(s, { storeId: local }), (e) => e.status === 500 && /STORAGE=d1/.test(e.body))
  await s.stop()
  // and STORAGE=do-sqlite over a store that lives in D1
  s = await startServer({ kind: 'ours', persistTo: dir, storage: 'd1', env: { STORAGE: 'do-sqlite' } })
  servers.push(s)
  const back = await rawHttp(s, { storeId: remote, body: httpPull(remote) })
  assert.equal(back.status, 500)
  assert.match(back.text, /4 events in D1 \(STORAGE=d1\), but STORAGE=do-sqlite/)
  // the store that lives here is served as before
  assert.deepEqual(events(await pullAll(s, local)).map((b) => b.eventEncoded.seqNum), [1, 2, 3])
})

test('no two storeIds share a D1 table: not when they differ outside [a-zA-Z0-9], not when they differ in letter case', { skip: SKIP }, async () => {
  const dir = tempDir()
  const base = freshStoreId('d1-owner')
  // written by the reference first: its naming puts all of these into one table (SQLite table
  // names are case-insensitive), so only the first store is served from it by ours
  const victim = `${base}-CaseVictim`
  const ref = await start({ kind: 'ref', persistTo: dir, storage: 'd1' })
  assert.deepEqual(await push(ref, victim, evRange(1, 3)), { _tag: 'Success', value: {} })
  await ref.stop()

  const s = await start({ kind: 'ours', persistTo: dir, storage: 'd1' })
  // differing in case only, before the victim ever opened on ours: the reference's table is in
  // another case, so it is not theirs
  const others = [`${base}-casevictim`, `${base}-CASEVICTIM`]
  for (const other of others) {
    // a store of its own: empty, and its pushes land in its own table
    assert.deepEqual(events(await pullAll(s, other)), [], `${other} sees none of the victim's events`)
    assert.deepEqual(await push(s, other, evRange(1, 2, { clientId: other })), { _tag: 'Success', value: {} }, `${other} pushes`)
  }
  // the victim (the reference's data) is intact and takes its next push at its head
  const read = events(await pullAll(s, victim))
  assert.deepEqual(read.map((x) => x.eventEncoded.seqNum), [1, 2, 3])
  assert.ok(read.every((x) => x.eventEncoded.clientId === 'client-A'), 'no other store wrote into it')
  assert.deepEqual(await push(s, victim, evRange(4, 4)), { _tag: 'Success', value: {} })
  // differing outside [a-zA-Z0-9] (the very same reference table name), after the victim claimed it
  const underscore = `${base}_CaseVictim`
  assert.deepEqual(events(await pullAll(s, underscore)), [], 'the owner claimed the table: a private one')
  assert.deepEqual(await push(s, underscore, evRange(1, 2, { clientId: underscore })), { _tag: 'Success', value: {} })
  others.push(underscore)
  assert.deepEqual(events(await pullAll(s, victim)).map((x) => x.eventEncoded.seqNum), [1, 2, 3, 4])
  for (const other of others) {
    const mine = events(await pullAll(s, other))
    assert.deepEqual(mine.map((x) => [x.eventEncoded.seqNum, x.eventEncoded.clientId]), [[1, other], [2, other]], `${other} has exactly its own`)
  }
  // a later store whose name only differs in case from one that ours created first
  const first = `${base}-lower`
  const second = `${base}-LOWER`
  assert.deepEqual(await push(s, first, evRange(1, 1)), { _tag: 'Success', value: {} })
  assert.deepEqual(events(await pullAll(s, second)), [])
  assert.deepEqual(await push(s, second, evRange(1, 1)), { _tag: 'Success', value: {} }, 'no UNIQUE constraint: its own table')
  assert.deepEqual(events(await pullAll(s, first)).length, 1)
})

test('pages of large events stay within one D1 response', { skip: SKIP }, async () => {
  const s = await start({ kind: 'ours', storage: 'd1' })
  const storeId = freshStoreId('d1-large')
  const big = (seqNum) => ({ ...evRange(seqNum, seqNum)[0], args: { blob: 'z'.repeat(300_000), n: seqNum } })
  for (let i = 1; i <= 8; i++) assert.deepEqual(await push(s, storeId, [big(i)]), { _tag: 'Success', value: {} })
  const { responses } = await pullAll(s, storeId)
  assert.deepEqual(events({ responses }).map((b) => b.eventEncoded.args.n), [1, 2, 3, 4, 5, 6, 7, 8])
  for (const r of responses) assert.ok(JSON.stringify(r).length <= 900_000, 'each PullResponse within the budget')
})
