// A read-only "viewer" sign-in (the token's `readonly` claim, the Worker's JWT_READONLY_CLAIM): the
// viewer's page shows the editor's todos live and says that it cannot edit (no input, no toggles);
// nothing of the viewer's reaches the server. "Sign in as editor" switches the same tab to editing.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, assertServerLog, freshStoreId, pending, syncState, todosWithState, until, useStack, waitPending, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()

const access = (page) => page.getAttribute('[data-testid="access"]', 'data-access')

test('viewer: sees the todos live, cannot edit, stores nothing; signing in as editor lets it edit', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('viewer')
    const editor = await run.open(await run.device(), { ...stack, storeId, label: 'editor' })
    const viewer = await run.open(await run.device(), { ...stack, storeId, role: 'viewer', label: 'viewer' })
    await waitSyncState(editor, 'connected', 'editor')
    await waitSyncState(viewer, 'connected', 'viewer')
    assert.equal(await access(editor), 'editor')
    assert.equal(await access(viewer), 'viewer')
    assert.match(await viewer.textContent('[data-testid="access"]'), /read-only.*cannot edit/i)
    assert.ok(await viewer.locator('[data-testid="new-todo"]').isDisabled(), 'the viewer has no todo input')

    // the editor's edits reach the viewer live
    await addTodo(editor, 'Plan the trip')
    await addTodo(editor, 'Pack')
    await waitTodos(viewer, ['Plan the trip', 'Pack'], 'viewer')
    await editor.locator('[data-testid="todo"]', { hasText: 'Pack' }).locator('.toggle').check()
    await until('the viewer shows the completed todo', async () => JSON.stringify(await todosWithState(viewer)) === JSON.stringify(['Plan the trip', '✓ Pack']))

    // the viewer cannot edit: its toggles are disabled, its delete buttons hidden, nothing is pending
    const todo = viewer.locator('[data-testid="todo"]', { hasText: 'Plan the trip' })
    assert.ok(await todo.locator('.toggle').isDisabled(), 'toggle disabled')
    assert.ok(!(await todo.locator('.destroy').isVisible()), 'no delete button')
    await viewer.locator('[data-testid="new-todo"]').press('Enter').catch(() => {}) // a disabled input ignores it
    assert.equal(await pending(viewer), 0)
    assert.equal(await syncState(viewer), 'connected')
    await waitPending(editor, 0, 'editor')
    await assertServerLog(stack.server, storeId, ['Plan the trip', 'Pack', 'completed: Pack'], 'only the editor wrote')

    // the same tab signs in as editor, and edits
    await viewer.click('[data-testid="sign-in-as"]')
    await until('the tab is an editor now', async () => (await access(viewer)) === 'editor' && (await viewer.getAttribute('html', 'data-app')) === 'ready')
    await waitSyncState(viewer, 'connected', 'former viewer')
    assert.ok(!(await viewer.locator('[data-testid="new-todo"]').isDisabled()))
    await addTodo(viewer, 'Buy tickets')
    await waitTodos(editor, ['Plan the trip', 'Pack', 'Buy tickets'], 'editor')
    await waitServerLog(stack.server, storeId, ['Plan the trip', 'Pack', 'completed: Pack', 'Buy tickets'])
  }))
