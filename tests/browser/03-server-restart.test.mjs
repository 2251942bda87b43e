// Edits made while the server is stopped stay local (and survive a reload), then sync once and in
// order after it restarts on the same port with the same storage.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, assertServerLog, describeLog, freshStoreId, pending, serverEvents, startSyncServer, todos, useStack, waitPending, waitReady, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

// own storage folder: it must outlive the first server process
const stack = useStack({ ownPersistDir: true })
const RECONNECT_MS = 45_000

test('edits made while the server is stopped sync once, in order, after it restarts', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('restart')
    const a = await run.open(await run.device(), { ...stack, storeId, label: 'A' })
    const b = await run.open(await run.device(), { ...stack, storeId, label: 'B' })
    await waitSyncState(a, 'connected', 'A')
    await waitSyncState(b, 'connected', 'B')
    await addTodo(a, 'before the outage')
    await waitTodos(b, ['before the outage'], 'B')
    await waitServerLog(stack.server, storeId, ['before the outage'])

    const { port, persistTo } = stack.server
    await stack.server.stop()
    await waitSyncState(a, 'offline', 'A')
    await waitSyncState(b, 'offline', 'B')

    const fromA = ['A offline 1', 'A offline 2', 'A offline 3']
    const fromB = ['B offline 1', 'B offline 2']
    for (const text of fromA) await addTodo(a, text)
    for (const text of fromB) await addTodo(b, text)
    await waitPending(a, 3, 'A')
    await waitPending(b, 2, 'B')
    // a reload while offline keeps the edits and their pending state (OPFS)
    await a.reload()
    await waitReady(a)
    assert.deepEqual(await todos(a), ['before the outage', ...fromA], 'A after a reload while offline')
    await waitPending(a, 3, 'A after the reload')
    assert.equal(await pending(b), 2)

    stack.server = await startSyncServer({ port, persistTo })
    // every todo once, on both devices (the list is ordered by creation time: A's, then B's).
    // A longer deadline here: the published client retries a lost socket after 1, 2, 4, 8, 16, 30 s
    // (jittered, never reset), so B may only try again some 20-30 s after the restart.
    const shown = ['before the outage', ...fromA, ...fromB]
    await waitTodos(a, shown, 'A', RECONNECT_MS)
    await waitTodos(b, shown, 'B', RECONNECT_MS)
    await waitPending(a, 0, 'A', RECONNECT_MS)
    await waitPending(b, 0, 'B', RECONNECT_MS)
    await waitSyncState(a, 'connected', 'A')
    await waitSyncState(b, 'connected', 'B')
    // in the log each device's edits keep their order; whichever pushed first comes first
    const second = describeLog(await serverEvents(stack.server, storeId))[1]
    const expected = ['before the outage', ...(second === fromA[0] ? [...fromA, ...fromB] : [...fromB, ...fromA])]
    await assertServerLog(stack.server, storeId, expected)
  }))
