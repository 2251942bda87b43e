// HTTP transport (PROTOCOL.md §5, §9.3; transcripts 08 and 20): the published makeHttpSync client
// and raw POSTs. One POST per RPC, the response is a JSON array of all server messages
// ([Chunk…, Exit] or [Defect]). CORS on RPC responses and HTTP_RESPONSE_HEADERS are ours-only.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { BACKEND_ID_RE, encodedFailure, ev, eventsOf, evRange, failureOf, freshStoreId, httpPing, httpPull, httpPush, ISO_RE, makeClient, oursOnly, rawHttp, seqNumsOf, startServer, syncQuery, useServer, waitConnected, waitFor } from './harness.mjs'

const server = useServer()


/** Raw HTTP pull: {responses (PullResponses in order), exit, messages}. */
const rawPull = async (storeId, cursor, backendId) => {
  const req = httpPull(storeId, cursor, backendId)
  const res = await rawHttp(server, { storeId, body: req })
  assert.equal(res.status, 200, res.text)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  assert.ok(Array.isArray(res.json), `a JSON array: ${res.text.slice(0, 300)}`)
  const exit = res.json.at(-1)
  assert.equal(exit._tag, 'Exit', res.text.slice(0, 300))
  assert.equal(exit.requestId, req.id)
  const chunks = res.json.slice(0, -1)
  for (const c of chunks) {
    assert.equal(c._tag, 'Chunk')
    assert.equal(c.requestId, req.id)
  }
  return { responses: chunks.flatMap((c) => c.values), exit: exit.exit, messages: res.json }
}

/** Raw HTTP push: its encoded Exit. */
const rawPushHttp = async (storeId, batch, backendId) => {
  const req = httpPush(storeId, batch, backendId)
  const res = await rawHttp(server, { storeId, body: req })
  assert.equal(res.status, 200, res.text)
  assert.equal(res.json?.length, 1, res.text)
  assert.equal(res.json[0]._tag, 'Exit')
  assert.equal(res.json[0].requestId, req.id)
  return res.json[0].exit
}

const httpClient = (storeId, extra = {}) =>
  makeClient({ url: server.url, storeId, transport: 'http', timeoutMs: 30_000, ...extra })

test('ping: the client pings at construction and is connected; a raw Ping gets a Pong Exit', async () => {
  const storeId = freshStoreId('http-ping')
  const C = await httpClient(storeId, { options: { ping: { requestInterval: 60_000 } } })
  try {
    await waitConnected(C)
    await C.run(C.backend.ping)
  } finally {
    await C.close()
  }
  const req = httpPing(storeId)
  const res = await rawHttp(server, { storeId, body: req })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  assert.deepEqual(res.json, [{ _tag: 'Exit', requestId: req.id, exit: { _tag: 'Success', value: { _tag: 'SyncMessage.Pong' } } }])
  // the path is irrelevant (§5.1)
  const other = await rawHttp(server, { storeId, body: httpPing(storeId), path: '/http-rpc' })
  assert.equal(other.status, 200)
  assert.equal(other.json?.[0]?.exit?.value?._tag, 'SyncMessage.Pong')
})

test('published HTTP client: push then pull (from None and from a cursor)', async () => {
  const storeId = freshStoreId('http-pushpull')
  const C = await httpClient(storeId)
  try {
    const empty = await C.collectPull()
    assert.equal(empty.length, 1)
    assert.deepEqual(empty[0].batch, [])
    assert.equal(empty[0].pageInfo._tag, 'NoMore')
    assert.match(await C.storedBackendId(), BACKEND_ID_RE)

    await C.push(evRange(1, 3))
    const items = await C.collectPull()
    assert.deepEqual(eventsOf(items), evRange(1, 3))
    for (const { metadata } of items.flatMap((i) => i.batch)) {
      assert.equal(metadata._tag, 'Some')
      assert.match(metadata.value.createdAt, ISO_RE)
    }
    assert.deepEqual(seqNumsOf(await C.collectPull(2)), [3])
    assert.deepEqual(seqNumsOf(await C.collectPull(3)), [])
  } finally {
    await C.close()
  }
  // the same data over raw HTTP
  const { responses, exit } = await rawPull(storeId)
  assert.deepEqual(exit, { _tag: 'Success' })
  assert.deepEqual(eventsOf(responses), evRange(1, 3))
  assert.match(responses[0].backendId, BACKEND_ID_RE)
})

test('pagination: 250 events come in pages of ≤ 100 with remaining counting down, the last NoMore', async () => {
  const storeId = freshStoreId('http-paging')
  const C = await httpClient(storeId)
  try {
    await C.push(evRange(1, 250)) // the client splits into 100/100/50
    const check = (responses, total) => {
      assert.ok(responses.length >= Math.ceil(total / 100), `at least ${Math.ceil(total / 100)} pages, got ${responses.length}`)
      let seen = 0
      responses.forEach((r, i) => {
        assert.ok(r.batch.length <= 100, `page ${i} has ${r.batch.length} events`)
        seen += r.batch.length
        if (i < responses.length - 1) {
          assert.deepEqual(r.pageInfo, { _tag: 'MoreKnown', remaining: total - seen }, `pageInfo of page ${i}`)
        } else {
          assert.deepEqual(r.pageInfo, { _tag: 'NoMore' }, 'last page')
        }
      })
      assert.equal(seen, total)
    }
    const items = await C.collectPull()
    check(items, 250)
    assert.deepEqual(eventsOf(items), evRange(1, 250))

    const raw = await rawPull(storeId)
    check(raw.responses, 250)
    assert.deepEqual(seqNumsOf(raw.responses), Array.from({ length: 250 }, (_, i) => i + 1))
    const backendId = raw.responses[0].backendId

    const from120 = await rawPull(storeId, 120, backendId)
    check(from120.responses, 130)
    assert.deepEqual(seqNumsOf(from120.responses), Array.from({ length: 130 }, (_, i) => i + 121))
  } finally {
    await C.close()
  }
})

test('ServerAheadError: published client with a stale parent, raw push with a parent ahead', async () => {
  const storeId = freshStoreId('http-ahead')
  const A = await httpClient(storeId, { clientId: 'client-A' })
  const B = await httpClient(storeId, { clientId: 'client-B' })
  try {
    await A.push(evRange(1, 3))
    const err = failureOf(await B.pushExit([ev(1, 0, { clientId: 'client-B' })]))
    assert.ok(err, 'push must fail')
    assert.equal(err._tag, 'ServerAheadError')
    assert.equal(err.minimumExpectedNum, 3)
    assert.equal(err.providedNum, 0)

    const ahead = await rawPushHttp(storeId, [ev(6, 5)])
    assert.deepEqual(ahead, {
      _tag: 'Failure',
      cause: { _tag: 'Fail', error: { minimumExpectedNum: 3, providedNum: 5, _tag: 'ServerAheadError' } },
    })
    assert.deepEqual(seqNumsOf((await rawPull(storeId)).responses), [1, 2, 3])

    // after catching up B pushes on top of the head
    await B.collectPull()
    await B.push([ev(4, 3, { clientId: 'client-B' })])
    assert.deepEqual(
      eventsOf((await rawPull(storeId)).responses).map((e) => e.clientId),
      ['client-A', 'client-A', 'client-A', 'client-B'],
    )
  } finally {
    await A.close()
    await B.close()
  }
})

test('BackendIdMismatchError: published client with a stale backendId, raw pull and push', async () => {
  const storeId = freshStoreId('http-mismatch')
  assert.deepEqual(await rawPushHttp(storeId, evRange(1, 3)), { _tag: 'Success', value: {} })
  const backendId = (await rawPull(storeId)).responses[0].backendId
  const STALE = 'stale-backend-id-0000'

  const C = await httpClient(storeId, { clientId: 'client-C', kv: { backendId: STALE } })
  try {
    const pullErr = failureOf(await C.collectPullExit(3))
    assert.ok(pullErr, 'pull must fail')
    assert.equal(pullErr._tag, 'BackendIdMismatchError')
    assert.equal(pullErr.expected, backendId)
    assert.equal(pullErr.received, STALE)

    const pushErr = failureOf(await C.pushExit([ev(4, 3, { clientId: 'client-C' })]))
    assert.ok(pushErr, 'push must fail')
    assert.equal(pushErr._tag, 'BackendIdMismatchError')
    assert.equal(pushErr.expected, backendId)
    assert.equal(pushErr.received, STALE)
  } finally {
    await C.close()
  }

  const pull = await rawPull(storeId, 1, 'nope')
  assert.deepEqual(pull.responses, [])
  assert.deepEqual(encodedFailure(pull.exit), { _tag: 'BackendIdMismatchError', expected: backendId, received: 'nope' })
  const push = await rawPushHttp(storeId, [ev(4, 3)], 'nope')
  assert.deepEqual(encodedFailure(push), { _tag: 'BackendIdMismatchError', expected: backendId, received: 'nope' })
  assert.deepEqual(seqNumsOf((await rawPull(storeId)).responses), [1, 2, 3], 'nothing stored by the refused pushes')
})

test('an HTTP push reaches a live WebSocket pull; a WebSocket push reaches a polling HTTP live pull', async () => {
  const storeId = freshStoreId('http-mixed')
  const W = await makeClient({ url: server.url, storeId, clientId: 'client-W' })
  const H = await httpClient(storeId, { clientId: 'client-H', options: { livePull: { pollInterval: 300 } } })
  const wsLive = W.livePull()
  const httpLive = H.livePull()
  try {
    await waitConnected(W)
    // the WS live pull has delivered its first (empty) page: it is registered
    await waitFor('the first page of the WS live pull', () => wsLive.items.length > 0, 5_000)
    await waitFor('the first page of the HTTP live pull', () => httpLive.items.length > 0, 5_000)

    await H.push([ev(1, 0, { clientId: 'client-H' })])
    const [e1] = await wsLive.waitForEvents(1, 5000)
    assert.deepEqual(e1.eventEncoded, ev(1, 0, { clientId: 'client-H' }))

    await W.push([ev(2, 1, { clientId: 'client-W' })])
    const got = await httpLive.waitForEvents(2, 10_000)
    assert.deepEqual(
      got.map((e) => e.eventEncoded),
      [ev(1, 0, { clientId: 'client-H' }), ev(2, 1, { clientId: 'client-W' })],
    )
    assert.deepEqual(
      (await wsLive.waitForEvents(2, 5000)).map((e) => e.eventEncoded.clientId),
      ['client-H', 'client-W'],
    )
  } finally {
    await wsLive.stop()
    await httpLive.stop()
    await W.close()
    await H.close()
  }
})

const assertCors = (headers, allowHeaders) => {
  assert.equal(headers.get('access-control-allow-origin'), '*')
  assert.equal(headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS')
  if (allowHeaders) assert.equal(headers.get('access-control-allow-headers'), allowHeaders)
}

test('browser-style cross-origin: OPTIONS preflight → 204 with the CORS headers', async () => {
  const storeId = freshStoreId('http-cors')
  const res = await fetch(`${server.url}/?${syncQuery({ storeId, payload: { authToken: 'x' }, transport: 'http' })}`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://app.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-livestore-store-id,b3,traceparent',
    },
  })
  assert.equal(res.status, 204)
  assert.equal(await res.text(), '')
  assertCors(res.headers, 'content-type,x-livestore-store-id,b3,traceparent')
})

test(
  'browser-style cross-origin: the RPC POST response has Access-Control-Allow-Origin: *',
  { skip: oursOnly('adds no CORS headers to HTTP-RPC responses (PROTOCOL §2.3 step 4)') },
  async () => {
    const storeId = freshStoreId('http-cors-post')
    const headers = { Origin: 'https://app.example', 'x-livestore-store-id': storeId }
    const ping = await rawHttp(server, { storeId, body: httpPing(storeId), headers })
    assert.equal(ping.status, 200)
    assertCors(ping.headers)
    const push = await rawHttp(server, { storeId, body: httpPush(storeId, evRange(1, 2)), headers })
    assert.equal(push.json?.[0]?.exit?._tag, 'Success', push.text)
    assertCors(push.headers)
    const pull = await rawHttp(server, { storeId, body: httpPull(storeId), headers })
    assert.equal(pull.status, 200)
    assertCors(pull.headers)
    // error answers too
    const bad = await rawHttp(server, { storeId, body: '{not json', headers })
    assertCors(bad.headers)
  },
)

/** Bodies that are not one RPC request → a Defect; requests with an invalid payload → Exit Die. */
const NOT_A_REQUEST = [
  ['not JSON', '{not json'],
  ['a JSON array of requests', JSON.stringify([{ _tag: 'Request', id: '1', tag: 'SyncHttpRpc.Ping', payload: { storeId: 'x' }, headers: [] }])],
  ['an unknown tag', JSON.stringify({ _tag: 'Request', id: '1', tag: 'SyncHttpRpc.Nope', payload: {}, headers: [] })],
  ['an empty body', ''],
]
const INVALID_PAYLOAD = (storeId) => [
  ['Pull without cursor', { _tag: 'Request', id: '7', tag: 'SyncHttpRpc.Pull', payload: { storeId }, headers: [] }],
  ['Push without batch', { _tag: 'Request', id: '8', tag: 'SyncHttpRpc.Push', payload: { storeId, backendId: { _tag: 'None' } }, headers: [] }],
  [
    'Push with an event missing seqNum',
    { _tag: 'Request', id: '9', tag: 'SyncHttpRpc.Push', payload: { storeId, batch: [{ name: 'x-v1', args: {}, parentSeqNum: 2, clientId: 'c', sessionId: 's' }], backendId: { _tag: 'None' } }, headers: [] },
  ],
]

test('malformed bodies get a clear error and change nothing', async () => {
  const storeId = freshStoreId('http-malformed')
  assert.deepEqual(await rawPushHttp(storeId, evRange(1, 2)), { _tag: 'Success', value: {} })

  for (const [what, body] of NOT_A_REQUEST) {
    const res = await rawHttp(server, { storeId, body })
    assert.ok(Array.isArray(res.json), `${what}: a JSON array, got ${res.status} ${res.text.slice(0, 200)}`)
    assert.equal(res.json.length, 1, `${what}: ${res.text}`)
    assert.equal(res.json[0]._tag, 'Defect', `${what}: ${res.text}`)
    assert.ok(res.json[0].defect, `${what}: the Defect says why`)
  }
  for (const [what, body] of INVALID_PAYLOAD(storeId)) {
    const res = await rawHttp(server, { storeId, body })
    assert.equal(res.status, 200, `${what}: ${res.text}`)
    assert.equal(res.json?.length, 1, `${what}: ${res.text}`)
    const [exit] = res.json
    assert.equal(exit._tag, 'Exit', `${what}: ${res.text}`)
    assert.equal(exit.requestId, body.id)
    assert.equal(exit.exit._tag, 'Failure')
    assert.equal(exit.exit.cause._tag, 'Die', `${what}: ${res.text}`)
    assert.equal(typeof exit.exit.cause.defect, 'string')
  }
  const { responses } = await rawPull(storeId)
  assert.deepEqual(eventsOf(responses), evRange(1, 2))
  // and the store still takes the next correct push
  assert.deepEqual(await rawPushHttp(storeId, [ev(3, 2)], responses[0].backendId), { _tag: 'Success', value: {} })
})

test(
  'a body that is not one RPC request is answered 400 (JSON array with a Defect)',
  { skip: oursOnly('answers 200 for any body') },
  async () => {
    const storeId = freshStoreId('http-400')
    for (const [what, body] of NOT_A_REQUEST) {
      const res = await rawHttp(server, { storeId, body })
      assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text.slice(0, 200)}`)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      assert.equal(res.json?.[0]?._tag, 'Defect', what)
    }
  },
)

test('HTTP_RESPONSE_HEADERS adds its headers to every response', { skip: oursOnly('has no HTTP_RESPONSE_HEADERS setting') }, async () => {
  const extra = await startServer({ env: { HTTP_RESPONSE_HEADERS: JSON.stringify({ 'X-Extra': 'yes', 'Cache-Control': 'no-store' }) } })
  try {
    const storeId = freshStoreId('http-extra')
    const check = (what, headers) => {
      assert.equal(headers.get('x-extra'), 'yes', `${what}: X-Extra`)
      assert.equal(headers.get('cache-control'), 'no-store', `${what}: Cache-Control`)
    }
    const q = (transport) => syncQuery({ storeId, transport })
    const responses = {
      'RPC Ping': await rawHttp(extra, { storeId, body: httpPing(storeId) }),
      'RPC Push': await rawHttp(extra, { storeId, body: httpPush(storeId, evRange(1, 1)) }),
      'RPC Pull': await rawHttp(extra, { storeId, body: httpPull(storeId) }),
      'RPC Defect': await rawHttp(extra, { storeId, body: '{not json' }),
    }
    assert.equal(responses['RPC Push'].json?.[0]?.exit?._tag, 'Success')
    assert.deepEqual(eventsOf(responses['RPC Pull'].json[0].values), evRange(1, 1))
    for (const [what, res] of Object.entries(responses)) check(what, res.headers)
    for (const [what, url, init] of [
      ['GET / info', '/', {}],
      ['400 invalid path', '/nope', {}],
      ['426 upgrade required', `/?${q('ws')}`, {}],
      ['204 preflight', `/?${q('http')}`, { method: 'OPTIONS' }],
    ]) {
      const res = await fetch(`${extra.url}${url}`, init)
      await res.arrayBuffer()
      check(`${what} (${res.status})`, res.headers)
    }
  } finally {
    await extra.stop()
  }
})

