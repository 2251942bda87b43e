// The strongest end-to-end check: real LiveStore stores (@livestore/livestore + @livestore/adapter-node,
// in-memory SQLite, leader in the same thread) syncing through the server with the published
// makeWsSync client. Two stores commit concurrently on one storeId and must converge to the same
// state, in the same (server) order; a third store booted later catches up from history.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { makeAdapter } from '@livestore/adapter-node'
import { createStorePromise } from '@livestore/livestore'
import { makeWsSync } from '@livestore/sync-cf/client'
import { LogLevel } from 'effect'

import { freshStoreId, rawCollectPull, rawConnect, sleep, useServer, waitFor } from './harness.mjs'
import { allTodos, events, schema } from '../support/todo-schema.mjs'

const server = useServer()

const openStore = (storeId, clientId) =>
  createStorePromise({
    schema,
    storeId,
    disableDevtools: true,
    logLevel: LogLevel.Warning,
    adapter: makeAdapter({
      storage: { type: 'in-memory' },
      clientId,
      sync: { backend: makeWsSync({ url: server.url }) },
    }),
  })

test('two LiveStore stores committing concurrently converge to identical state', async () => {
  const storeId = freshStoreId('livestore')
  const stores = []
  try {
    const [A, B] = await Promise.all([openStore(storeId, 'client-A'), openStore(storeId, 'client-B')])
    stores.push(A, B)

    const commitMany = async (store, who) => {
      for (let i = 0; i < 20; i++) {
        store.commit(events.todoCreated({ id: `${who}-${String(i).padStart(2, '0')}`, text: `todo ${i} by ${who}`, author: who }))
        if (i % 3 === 0) await sleep(Math.floor(Math.random() * 30))
      }
    }
    await Promise.all([commitMany(A, 'A'), commitMany(B, 'B')])

    const same = () => {
      const a = A.query(allTodos)
      const b = B.query(allTodos)
      return a.length === 40 && JSON.stringify(a) === JSON.stringify(b)
    }
    await waitFor('stores A and B converge on 40 identical rows', same)
    const rows = A.query(allTodos)
    assert.equal(rows.filter((r) => r.author === 'A').length, 20)
    assert.equal(rows.filter((r) => r.author === 'B').length, 20)
    // each author's todos keep their commit order
    for (const who of ['A', 'B']) {
      const ids = rows.filter((r) => r.author === who).map((r) => r.id)
      assert.deepEqual(ids, [...ids].sort())
    }

    // the server holds exactly these 40 events, in the order both stores materialized them
    const conn = await rawConnect(server, { storeId })
    let serverEvents
    try {
      const { responses } = await rawCollectPull(conn, { storeId })
      serverEvents = responses.flatMap((r) => r.batch.map((b) => b.eventEncoded))
    } finally {
      await conn.close()
    }
    assert.equal(serverEvents.length, 40)
    serverEvents.forEach((e, i) => {
      assert.equal(e.seqNum, i + 1)
      assert.equal(e.parentSeqNum, i)
      assert.equal(e.name, 'v1.TodoCreated')
    })
    assert.deepEqual(
      serverEvents.map((e) => e.args.id),
      rows.map((r) => r.id),
    )
    assert.deepEqual(
      [...new Set(serverEvents.map((e) => e.clientId))].sort(),
      ['client-A', 'client-B'],
    )

    // a third store booted later catches up from the server's history
    const C = await openStore(storeId, 'client-C')
    stores.push(C)
    await waitFor('store C catches up', () => C.query(allTodos).length === 40)
    assert.deepEqual(C.query(allTodos), rows)

    // and its own commit reaches A and B live
    C.commit(events.todoCreated({ id: 'C-00', text: 'late todo by C', author: 'C' }))
    await waitFor('A and B receive C-00', () => [A, B].every((s) => s.query(allTodos).length === 41))
    for (const s of [A, B, C]) assert.deepEqual(s.query(allTodos).at(-1), { id: 'C-00', text: 'late todo by C', author: 'C' })
  } finally {
    for (const s of stores) await s.shutdownPromise().catch(() => {})
  }
})
