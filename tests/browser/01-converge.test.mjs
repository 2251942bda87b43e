// Two users' devices (two browser contexts: separate profiles, OPFS, SharedWorkers) on one store
// converge both ways over makeWsSync, within a few seconds; the server stores every event once.
// Also takes the screenshot of the app used in the README.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'

import { ARTIFACTS, REPO, addTodo, freshStoreId, pending, syncState, todosWithState, until, useStack, waitPending, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()

test('two devices converge both ways (makeWsSync)', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('converge')
    const a = await run.open(await run.device(), { ...stack, storeId, label: 'A' })
    const b = await run.open(await run.device(), { ...stack, storeId, label: 'B' })
    await waitSyncState(a, 'connected', 'A')
    await waitSyncState(b, 'connected', 'B')

    // A → B
    await addTodo(a, 'Buy milk')
    await addTodo(a, 'Book the train')
    await waitTodos(b, ['Buy milk', 'Book the train'], 'B')
    // B → A, an edit of A's todo included
    await addTodo(b, 'Water the plants')
    await b.locator('[data-testid="todo"]', { hasText: 'Buy milk' }).locator('.toggle').check()
    const expected = ['✓ Buy milk', 'Book the train', 'Water the plants']
    await waitTodos(a, ['Buy milk', 'Book the train', 'Water the plants'], 'A')
    await until('A shows the completed state', async () => JSON.stringify(await todosWithState(a)) === JSON.stringify(expected))
    for (const [name, page] of [
      ['A', a],
      ['B', b],
    ]) {
      await waitPending(page, 0, name)
      assert.deepEqual(await todosWithState(page), expected, `${name}: the exact list`)
      assert.equal(await syncState(page), 'connected', `${name}: connected`)
      assert.equal(await pending(page), 0, `${name}: nothing left to push`)
    }
    await waitServerLog(stack.server, storeId, ['Buy milk', 'Book the train', 'Water the plants', 'completed: Buy milk'])

    // the README's screenshot: the app element only, kept small
    await a.locator('[data-testid="new-todo"]').blur()
    const shot = process.env.UPDATE_README_SCREENSHOT ? path.join(REPO, 'docs/example-app.png') : path.join(ARTIFACTS, 'example-app.png')
    await a.locator('main.todoapp').screenshot({ path: shot })
    t.diagnostic(`screenshot: ${path.relative(REPO, shot)}`)
  }))
