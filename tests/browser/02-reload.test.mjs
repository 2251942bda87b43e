// A reload keeps everything (the store reopens its OPFS databases) and pushes nothing twice.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, assertServerLog, freshStoreId, pending, todos, useStack, waitPending, waitReady, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()

test('a reload keeps every todo (OPFS) and pushes nothing twice', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('reload')
    const a = await run.open(await run.device(), { ...stack, storeId, label: 'A' })
    await waitSyncState(a, 'connected', 'A')
    const first = ['one', 'two', 'three']
    for (const text of first) await addTodo(a, text)
    await waitPending(a, 0, 'A')
    await waitServerLog(stack.server, storeId, first)

    for (const round of [1, 2]) {
      await a.reload()
      await waitReady(a)
      assert.deepEqual(await todos(a), first, `reload ${round}: the todos are there at once, from OPFS`)
      await waitSyncState(a, 'connected', `A after reload ${round}`)
      await waitPending(a, 0, `A after reload ${round}`)
      await assertServerLog(stack.server, storeId, first, `after reload ${round}`)
    }

    // the reloaded store still syncs, and a second device gets exactly one copy of everything
    await addTodo(a, 'four')
    await waitPending(a, 0, 'A')
    const all = [...first, 'four']
    await waitServerLog(stack.server, storeId, all)
    const b = await run.open(await run.device(), { ...stack, storeId, label: 'B' })
    await waitTodos(b, all, 'B')
    assert.deepEqual(await todos(a), all)
    assert.equal(await pending(b), 0)
  }))
