// A token the Worker refuses (valid signature but for another store → 403; bad signature → 401):
// the app shows "refused" with the server's reason, keeps its edits locally, and the server stores
// nothing; after "sign in again" with a valid token every edit syncs, once, to the other device too.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, assertServerLog, freshStoreId, mintToken, pending, syncState, todos, useStack, waitPending, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()

const cases = [
  ['a token for another store', (storeId) => mintToken({ storeId, stores: ['some-other-store'] }), /^403: .*store/i],
  ['a token with a bad signature', (storeId) => mintToken({ storeId, secret: 'not-the-server-secret-but-32-chars-long' }), /^401: /],
]

for (const [what, badToken, reason] of cases) {
  test(`refused: ${what} → "refused", edits kept locally, nothing stored; a valid token syncs them`, (t) =>
    withArtifacts(t, stack.browser, async (run) => {
      const storeId = freshStoreId('refused')
      const context = await run.device()
      // the "identity provider" (the app's dev token endpoint) hands out a bad token at first
      const bad = badToken(storeId)
      await context.route('**/dev-token?**', (route) => route.fulfill({ json: { token: bad } }))
      const a = await run.open(context, { ...stack, storeId, label: 'A' })
      await waitSyncState(a, 'refused', 'A')
      assert.match(await a.textContent('[data-testid="sync-detail"]'), reason)

      const local = ['refused 1', 'refused 2', 'refused 3']
      for (const text of local) await addTodo(a, text)
      await waitPending(a, 3, 'A')
      assert.deepEqual(await todos(a), local)
      assert.equal(await syncState(a), 'refused')
      await assertServerLog(stack.server, storeId, [], 'the server stored nothing')

      // B, signed in properly, sees nothing of it yet
      const b = await run.open(await run.device(), { ...stack, storeId, label: 'B' })
      await waitSyncState(b, 'connected', 'B')
      assert.deepEqual(await todos(b), [])

      // the real endpoint again, and "sign in again"
      await context.unroute('**/dev-token?**')
      await a.click('[data-testid="sign-in"]')
      await waitSyncState(a, 'connected', 'A')
      await waitPending(a, 0, 'A')
      await waitTodos(b, local, 'B')
      assert.deepEqual(await todos(a), local)
      assert.equal(await pending(b), 0)
      await waitServerLog(stack.server, storeId, local)
    }))
}
