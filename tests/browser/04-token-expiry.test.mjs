// The token expires while the page is open: the server closes the socket with 4001, the app says
// "refused" and keeps working locally, nothing committed after expiry reaches the server; "sign in
// again" fetches a fresh token, restarts the store with it, and every offline edit arrives once.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { addTodo, assertServerLog, freshStoreId, pending, syncState, todos, until, useStack, waitPending, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

const stack = useStack()
const TTL = 10 // seconds: long enough to boot and sync once on a slow machine

test('token expiry: socket closed with 4001, edits stay local; "sign in again" syncs them once', (t) =>
  withArtifacts(t, stack.browser, async (run) => {
    const storeId = freshStoreId('expiry')
    // B signs in normally; A asks the app's dev token endpoint for 10-second tokens (?ttl=10)
    const b = await run.open(await run.device(), { ...stack, storeId, label: 'B' })
    const a = await run.open(await run.device(), { ...stack, storeId, ttl: TTL, label: 'A' })
    const exp = Number(await a.getAttribute('[data-testid="token-expiry"]', 'data-exp'))
    assert.ok(exp * 1000 > Date.now(), 'A starts with a valid token')
    await waitSyncState(a, 'connected', 'A')
    await addTodo(a, 'while valid')
    await waitTodos(b, ['while valid'], 'B')
    await waitServerLog(stack.server, storeId, ['while valid'])
    assert.ok(Date.now() < exp * 1000, `A synced before its token expired (too slow for TTL=${TTL} s here?)`)

    // expiry: the server closes A's socket with 4001 "Token expired", the probe gets 401
    await until('A shows the server closed its socket with 4001', async () => (await a.getAttribute('[data-testid="server-close"]', 'data-code')) === '4001')
    assert.match(await a.textContent('[data-testid="server-close"]'), /4001 Token expired/)
    assert.ok(Date.now() >= exp * 1000 - 100, 'not closed before expiry')
    await waitSyncState(a, 'refused', 'A')
    assert.match(await a.textContent('[data-testid="sync-detail"]'), /^401: .*expired/i)
    await until('A shows its token expired', async () => /token expired/.test(await a.textContent('[data-testid="token-expiry"]')))

    // edits continue locally; none reaches the server or B
    const offline = ['after expiry 1', 'after expiry 2', 'after expiry 3']
    for (const text of offline) await addTodo(a, text)
    await waitPending(a, 3, 'A')
    assert.deepEqual(await todos(a), ['while valid', ...offline])
    assert.equal(await syncState(a), 'refused')
    await assertServerLog(stack.server, storeId, ['while valid'], 'nothing after expiry reached the server')
    assert.deepEqual(await todos(b), ['while valid'], 'B did not get them')

    // sign in again (this time a 10-minute token: the test rewrites the ttl A asks for)
    await a.route('**/dev-token?**', (route) => route.continue({ url: route.request().url().replace(/ttl=\d+/, 'ttl=600') }))
    await a.click('[data-testid="sign-in"]')
    await until('A has the new token', async () => Number(await a.getAttribute('[data-testid="token-expiry"]', 'data-exp')) > exp + 60)
    await waitSyncState(a, 'connected', 'A')
    await waitPending(a, 0, 'A')
    const all = ['while valid', ...offline]
    await waitTodos(b, all, 'B')
    assert.deepEqual(await todos(a), all)
    assert.equal(await pending(b), 0)
    await waitServerLog(stack.server, storeId, all)
  }))
