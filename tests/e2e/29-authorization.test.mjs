// Who may do what, by config (ours only; the reference leaves it to an onPush you write):
// read-only tokens (JWT_READONLY_CLAIM), per-event push rules (JWT_EVENTS_CLAIM), tokens from a
// cookie (AUTH_COOKIE) with an origin allow-list (ALLOWED_ORIGINS). Driven by the published client
// where it can present the token (the sync payload), by raw sockets and POSTs where a browser would
// add a cookie and an Origin.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import {
  assertEvictedBetween,
  encodedFailure,
  ev,
  eventsOf,
  evRange,
  failureOf,
  freshStoreId,
  httpPull,
  httpPush,
  makeClient,
  oursOnly,
  rawCollectPull,
  rawConnect,
  rawHttp,
  rawPush,
  sleep,
  startServer,
} from './harness.mjs'
import { mintHs256 } from '../../scripts/lib/hs256.mjs'

const SKIP = oursOnly('has no built-in authorization (it would be an onPush you write)')

const SECRET = 'e2e-authorization-secret-0123456789-abcdef'
const APP_ORIGIN = 'http://app.e2e.test:5173'
const nowSec = () => Math.floor(Date.now() / 1000)
const token = (claims) => mintHs256({ sub: 'e2e-user', exp: nowSec() + 600, ...claims }, SECRET)
const writer = (storeId) => token({ stores: [storeId] })
const viewer = (storeId) => token({ stores: [storeId], readonly: true })
const todosOnly = (storeId) => token({ stores: [storeId], events: ['todo*'] })

let server
before(async () => {
  if (SKIP) return
  server = await startServer({
    env: {
      AUTH_MODE: 'jwt',
      JWT_SECRET: SECRET,
      JWT_STORE_CLAIM: 'stores',
      JWT_READONLY_CLAIM: 'readonly',
      JWT_EVENTS_CLAIM: 'events',
      AUTH_COOKIE: 'session',
      ALLOWED_ORIGINS: APP_ORIGIN,
    },
  })
})
after(async () => {
  await server?.stop()
})

const client = (storeId, authToken, extra = {}) => makeClient({ url: server.url, storeId, payload: { authToken }, ...extra })

/** Every event of the store, read with a writer's token. */
const serverEvents = async (storeId) => {
  const conn = await rawConnect(server, { storeId, payload: { authToken: writer(storeId) } })
  try {
    return eventsOf((await rawCollectPull(conn, { storeId })).responses)
  } finally {
    await conn.close()
  }
}

/** The client's push failure, as `name: message` of its `UnknownError`'s cause (our error). */
const refusedPush = async (c, batch) => {
  const err = failureOf(await c.pushExit(batch))
  assert.ok(err, 'the push must fail')
  assert.equal(err._tag, 'UnknownError', JSON.stringify(err))
  return `${err.cause?.name}: ${err.cause?.message}`
}

const named = (seqNum, name, extra) => ({ ...ev(seqNum, seqNum - 1, extra), name })

test('read-only token (ws): pulls history and live pushes of others; its push is refused with the reason; nothing stored', { skip: SKIP }, async () => {
  const storeId = freshStoreId('viewer')
  const W = await client(storeId, writer(storeId), { clientId: 'client-W' })
  const V = await client(storeId, viewer(storeId), { clientId: 'client-V' })
  try {
    await W.push(evRange(1, 2, { clientId: 'client-W' }))
    const live = V.livePull()
    await live.waitForEvents(2)
    await W.push(evRange(3, 4, { clientId: 'client-W' }))
    assert.deepEqual((await live.waitForEvents(4)).map((e) => e.eventEncoded.seqNum), [1, 2, 3, 4])

    const why = await refusedPush(V, [ev(5, 4, { clientId: 'client-V' })])
    assert.match(why, /PushNotAllowedError/)
    assert.match(why, /read-only/)
    // a stale parent gets the same answer: read-only is decided before the head
    assert.match(await refusedPush(V, [ev(1, 0, { clientId: 'client-V' })]), /read-only/)

    // the live pull goes on after the refusals
    await W.push(evRange(5, 5, { clientId: 'client-W' }))
    assert.deepEqual((await live.waitForEvents(5)).map((e) => e.eventEncoded.seqNum), [1, 2, 3, 4, 5])
    await live.stop()
    assert.deepEqual(
      (await serverEvents(storeId)).map((e) => [e.seqNum, e.clientId]),
      [1, 2, 3, 4, 5].map((n) => [n, 'client-W']),
    )
  } finally {
    await Promise.all([W.close(), V.close()])
  }
})

test('read-only token (http): pulls, its push is refused; a token listing the store only under the read-only claim opens it read-only', { skip: SKIP }, async () => {
  const storeId = freshStoreId('viewer-http')
  const W = await client(storeId, writer(storeId), { transport: 'http' })
  const V = await client(storeId, viewer(storeId), { transport: 'http', clientId: 'client-V' })
  try {
    await W.push(evRange(1, 3))
    assert.deepEqual(eventsOf(await V.collectPull()).map((e) => e.seqNum), [1, 2, 3])
    assert.match(await refusedPush(V, [ev(4, 3, { clientId: 'client-V' })]), /read-only/)

    // the read-only claim as a list of stores opens them on its own, read-only
    const listed = token({ readonly: [storeId] })
    const pull = await rawHttp(server, { storeId, payload: { authToken: listed }, body: httpPull(storeId) })
    assert.equal(pull.status, 200, pull.text)
    assert.equal(eventsOf(pull.json.slice(0, -1).flatMap((c) => c.values)).length, 3)
    const push = await rawHttp(server, { storeId, payload: { authToken: listed }, body: httpPush(storeId, [ev(4, 3)]) })
    assert.equal(push.status, 200, push.text)
    const error = encodedFailure(push.json[0].exit)
    assert.equal(error._tag, 'UnknownError')
    assert.equal(error.cause.name, 'PushNotAllowedError')
    assert.deepEqual((await serverEvents(storeId)).map((e) => e.seqNum), [1, 2, 3])
  } finally {
    await Promise.all([W.close(), V.close()])
  }
})

test('a client cannot lift its rights: the header the Worker sets is replaced, whatever the client sends', { skip: SKIP }, async () => {
  const storeId = freshStoreId('viewer-forge')
  const forged = { 'x-livestore-push-rights': '{}', 'X-LiveStore-Push-Rights': '{}' }
  const conn = await rawConnect(server, { storeId, payload: { authToken: viewer(storeId) }, headers: forged })
  try {
    const error = encodedFailure(await rawPush(conn, { storeId, batch: [ev(1, 0)] }))
    assert.equal(error?.cause?.name, 'PushNotAllowedError', JSON.stringify(error))
  } finally {
    await conn.close()
  }
  const http = await rawHttp(server, { storeId, payload: { authToken: viewer(storeId) }, headers: forged, body: httpPush(storeId, [ev(1, 0)]) })
  assert.equal(encodedFailure(http.json[0].exit)?.cause?.name, 'PushNotAllowedError', http.text)
  assert.deepEqual(await serverEvents(storeId), [])
})

test('read-only is kept with the socket across eviction (hibernation)', { skip: SKIP }, async (t) => {
  const storeId = freshStoreId('viewer-evict')
  const W = await client(storeId, writer(storeId), { clientId: 'client-W' })
  const V = await client(storeId, viewer(storeId), { clientId: 'client-V' })
  try {
    await W.push(evRange(1, 1, { clientId: 'client-W' }))
    const live = V.livePull()
    await live.waitForEvents(1)
    await sleep(12_000) // local workerd evicts an idle object after ~10 s; the sockets stay open
    await W.push(evRange(2, 2, { clientId: 'client-W' }))
    await assertEvictedBetween(t, server, storeId, 1, 2)
    await live.waitForEvents(2)
    assert.match(await refusedPush(V, [ev(3, 2, { clientId: 'client-V' })]), /read-only/)
    await live.stop()
    assert.deepEqual((await serverEvents(storeId)).map((e) => e.seqNum), [1, 2])
  } finally {
    await Promise.all([W.close(), V.close()])
  }
})

test('a token limited to todo* events pushes those and is refused for any other, atomically (ws and http)', { skip: SKIP }, async () => {
  for (const transport of ['ws', 'http']) {
    const storeId = freshStoreId(`events-${transport}`)
    const T = await client(storeId, todosOnly(storeId), { transport })
    const W = await client(storeId, writer(storeId), { transport, clientId: 'client-W' })
    try {
      await T.push([named(1, 'todoCreated'), named(2, 'todoCompleted')])
      const why = await refusedPush(T, [named(3, 'todoCreated'), named(4, 'userDeleted'), named(5, 'adminGranted')])
      assert.match(why, /PushNotAllowedError/)
      assert.match(why, /userDeleted/, 'names the first event that is not allowed')
      assert.doesNotMatch(why, /adminGranted/)
      // nothing of the refused batch was stored: the next todo push continues at 3
      await T.push([named(3, 'todoCreated')])
      // another client's token is not limited
      await W.push([named(4, 'userDeleted', { clientId: 'client-W' })])
      assert.deepEqual(
        (await serverEvents(storeId)).map((e) => [e.seqNum, e.name]),
        [
          [1, 'todoCreated'],
          [2, 'todoCompleted'],
          [3, 'todoCreated'],
          [4, 'userDeleted'],
        ],
        transport,
      )
    } finally {
      await Promise.all([T.close(), W.close()])
    }
  }
})

test('a token in a cookie: accepted from an allowed Origin (ws, http) and without one; 403 from another Origin; 401 without a valid token', { skip: SKIP }, async () => {
  const storeId = freshStoreId('cookie')
  const cookie = `theme=dark; session=${writer(storeId)}`
  // a browser on the app's origin: the upgrade carries the cookie and the Origin
  const conn = await rawConnect(server, { storeId, headers: { Cookie: cookie, Origin: APP_ORIGIN } })
  try {
    assert.equal(encodedFailure(await rawPush(conn, { storeId, batch: evRange(1, 2) })), undefined)
  } finally {
    await conn.close()
  }
  const http = await rawHttp(server, { storeId, headers: { Cookie: cookie, Origin: APP_ORIGIN }, body: httpPush(storeId, [ev(3, 2)]) })
  assert.equal(http.status, 200, http.text)
  assert.equal(http.json[0].exit._tag, 'Success', http.text)
  // not a browser (no Origin): the cookie's token is checked like any other
  const cli = await rawHttp(server, { storeId, headers: { Cookie: cookie }, body: httpPull(storeId) })
  assert.equal(cli.status, 200, cli.text)

  const refused = async (headers, status, reason) => {
    let e
    try {
      const c = await rawConnect(server, { storeId, headers })
      await c.close()
    } catch (err) {
      e = err
    }
    assert.equal(e?.status, status, `ws ${JSON.stringify(headers)}: ${e?.body}`)
    assert.match(e.body, reason)
    const h = await rawHttp(server, { storeId, headers, body: httpPush(storeId, [ev(4, 3)]) })
    assert.equal(h.status, status, h.text)
    assert.match(h.text, reason)
  }
  // another site's page: its browser adds the cookie, and its Origin gives it away
  await refused({ Cookie: cookie, Origin: 'https://evil.example' }, 403, /Origin "https:\/\/evil\.example" is not allowed \(ALLOWED_ORIGINS\)/)
  await refused({ Cookie: cookie, Origin: 'null' }, 403, /not allowed/)
  // a cookie without a valid token
  await refused({ Cookie: 'session=not-a-jwt', Origin: APP_ORIGIN }, 401, /Malformed token/)
  await refused({ Cookie: `session=${token({ stores: [storeId], exp: nowSec() - 60 })}`, Origin: APP_ORIGIN }, 401, /expired/i)
  await refused({ Cookie: 'theme=dark', Origin: APP_ORIGIN }, 401, /cookie `session`/)
  // a payload token from another origin is refused too: the allow-list is for every request
  await refused({ Origin: 'https://evil.example' }, 403, /not allowed/)

  assert.deepEqual((await serverEvents(storeId)).map((e) => e.seqNum), [1, 2, 3])
})
