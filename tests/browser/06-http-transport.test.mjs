// The same convergence over makeHttpSync (?transport=http), cross-origin: the app and the Worker are
// on different ports, so every sync request is a CORS request (JSON POST with the client's
// x-livestore-store-id header: preflighted) that a real browser, web security on, must allow.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, freshStoreId, mintToken, pending, syncState, todosWithState, until, useStack, waitPending, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()

test('two devices converge both ways over makeHttpSync, cross-origin (CORS)', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('http')
    assert.notEqual(new URL(stack.app.url).origin, new URL(stack.server.url).origin, 'app and Worker on different origins')
    // every sync request of the page's workers, and how it ended
    const requests = []
    const a = await run.open(await run.device(), { ...stack, storeId, transport: 'http', label: 'A' })
    const b = await run.open(await run.device(), { ...stack, storeId, transport: 'http', label: 'B' })
    for (const page of [a, b]) {
      page.context().on('requestfinished', (r) => r.url().startsWith(stack.server.url) && requests.push({ method: r.method(), url: r.url(), failed: false }))
      page.context().on('requestfailed', (r) => r.url().startsWith(stack.server.url) && requests.push({ method: r.method(), url: r.url(), failed: r.failure()?.errorText }))
    }
    assert.match(await a.textContent('[data-testid="info"]'), /makeHttpSync/)
    await waitSyncState(a, 'connected', 'A')
    await waitSyncState(b, 'connected', 'B')

    await addTodo(a, 'over HTTP from A')
    await waitTodos(b, ['over HTTP from A'], 'B')
    await addTodo(b, 'over HTTP from B')
    await b.locator('[data-testid="todo"]', { hasText: 'from A' }).locator('.toggle').check()
    const expected = ['✓ over HTTP from A', 'over HTTP from B']
    for (const [name, page] of [
      ['A', a],
      ['B', b],
    ]) {
      await until(`${name} shows ${JSON.stringify(expected)}`, async () => JSON.stringify(await todosWithState(page)) === JSON.stringify(expected))
      await waitPending(page, 0, name)
      assert.equal(await syncState(page), 'connected')
      assert.equal(await pending(page), 0)
    }
    await waitServerLog(stack.server, storeId, ['over HTTP from A', 'over HTTP from B', 'completed: over HTTP from A'])

    // the sync traffic really was cross-origin HTTP (no WebSocket), and none of it was blocked
    const sync = requests.filter((r) => /[?&]transport=http/.test(r.url))
    assert.ok(sync.some((r) => r.method === 'POST' && !r.failed), `the workers' POSTs to the Worker succeeded (${sync.length} seen)`)
    assert.deepEqual(sync.filter((r) => r.failed), [], 'no sync request failed')
    assert.ok(!requests.some((r) => /[?&]transport=ws/.test(r.url)), 'no WebSocket transport')

    // the page's own cross-origin request, read back (the preflight allowed it) …
    const ping = (method) =>
      a.evaluate(
        async ({ url, storeId, token, method }) => {
          const q = new URLSearchParams({ storeId, payload: encodeURIComponent(JSON.stringify({ authToken: token })), transport: 'http' })
          try {
            const res = await fetch(`${url}?${q}`, {
              method,
              headers: { 'content-type': 'application/json', 'x-livestore-store-id': storeId },
              body: JSON.stringify({ _tag: 'Request', id: '1', tag: 'SyncHttpRpc.Ping', payload: { storeId }, headers: [] }),
            })
            return { status: res.status, body: await res.text() }
          } catch (e) {
            return { blocked: String(e) }
          }
        },
        { url: stack.server.url, storeId, token: mintToken({ storeId }), method },
      )
    const post = await ping('POST')
    assert.equal(post.status, 200, JSON.stringify(post))
    assert.match(post.body, /"_tag":"Exit"/)
    // … while one the Worker's CORS answer does not allow (PUT is not in Access-Control-Allow-Methods)
    // is blocked by the browser: CORS is enforced in this browser, not switched off
    const put = await ping('PUT')
    assert.match(put.blocked ?? '', /TypeError/, `PUT must be blocked by CORS: ${JSON.stringify(put)}`)
  }))
