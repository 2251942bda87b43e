// Persistence: after a restart of the server on the same --persist-to folder every acknowledged
// event is still there, with the same createdAt, the same backendId and the same head.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { encodedFailure, ev, evRange, freshStoreId, makeClient, rawCollectPull, rawConnect, rawPush, startServer } from './harness.mjs'

let dir
const servers = []
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-persist-'))
})
after(async () => {
  for (const s of servers) await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

const pullAll = async (server, storeId) => {
  const conn = await rawConnect(server, { storeId })
  try {
    return await rawCollectPull(conn, { storeId })
  } finally {
    await conn.close()
  }
}

test('acknowledged events, backendId and head survive a restart', async () => {
  const storeIds = [freshStoreId('persist-a'), freshStoreId('persist-b')]
  const first = await startServer({ persistTo: dir })
  servers.push(first)
  const before = {}
  for (const [k, storeId] of storeIds.entries()) {
    const A = await makeClient({ url: first.url, storeId })
    try {
      await A.push(evRange(1, 130))
      await A.push([ev(131, 130, { args: null }), { ...ev(132, 131), args: undefined }])
      await A.push(evRange(133, 140 + k))
    } finally {
      await A.close()
    }
    before[storeId] = await pullAll(first, storeId)
    assert.equal(before[storeId].responses.flatMap((r) => r.batch).length, 140 + k)
  }
  await first.stop()

  const second = await startServer({ persistTo: dir })
  servers.push(second)
  for (const [k, storeId] of storeIds.entries()) {
    const afterPull = await pullAll(second, storeId)
    const flat = (p) => p.responses.flatMap((r) => r.batch)
    assert.equal(flat(afterPull).length, 140 + k)
    assert.deepEqual(flat(afterPull), flat(before[storeId]), 'events and createdAt identical')
    assert.equal(afterPull.responses[0].backendId, before[storeId].responses[0].backendId, 'backendId unchanged')
    const byArgs = flat(afterPull).map((b) => b.eventEncoded)
    assert.equal(byArgs[130].args, null)
    assert.equal(byArgs[131].args ?? null, null)

    // the head was restored too
    const conn = await rawConnect(second, { storeId })
    try {
      const backendId = afterPull.responses[0].backendId
      const stale = await rawPush(conn, { storeId, batch: [ev(1, 0)], backendId })
      assert.deepEqual(encodedFailure(stale), { _tag: 'ServerAheadError', minimumExpectedNum: 140 + k, providedNum: 0 })
      const ok = await rawPush(conn, { storeId, batch: [ev(141 + k, 140 + k)], backendId })
      assert.deepEqual(ok, { _tag: 'Success', value: {} })
    } finally {
      await conn.close()
    }
  }
})
