// Fidelity: every JSON value of `args` (absent, null, objects, arrays, strings, numbers including
// large and tiny floats, booleans) and unicode and control characters in every string field come
// back exactly as they were pushed, on every delivery path: the pusher's own live pull, another
// client's live pull, a raw live pull, history pulls (published client and raw), HTTP pulls
// (published client and raw), and the broadcast of a push made over HTTP. Raw paths check the JSON
// text itself: an absent `args` must be absent, not null.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  freshStoreId,
  oursOnly,
  httpPull,
  makeClient,
  nextId,
  pullRequest,
  rawCollectPull,
  rawConnect,
  rawHttp,
  useServer,
  waitFor,
} from './harness.mjs'

const server = useServer()

const ABSENT = Symbol('absent')
// 62 levels, just within MAX_ARGS_DEPTH (64): deeper args are refused at push (e2e 27)
let deep = 'bottom'
for (let i = 0; i < 31; i++) deep = { level: i, next: [deep] }

/** [label, args] — every JSON shape a client can push as `args`. */
const SHAPES = [
  ['absent', ABSENT],
  ['null', null],
  ['empty object', {}],
  ['empty array', []],
  ['object', { id: 'todo-1', text: 'buy milk', done: false, tags: ['a', 'b'], meta: { n: 1, nested: { x: null } } }],
  ['array of everything', [1, 'two', null, true, { three: 3 }, [4]]],
  ['empty string', ''],
  ['string', 'plain text'],
  ['unicode', 'ünïcödé 日本語 😀 \u{1F468}\u200D\u{1F469}'],
  ['control characters', '\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f "quoted" \\back\\slash'],
  ['line separators', 'a\u2028b\u2029c'],
  ['lone surrogates', 'x\ud800y\udfffz'],
  ['zero', 0],
  ['negative', -17],
  ['fraction', 1.5],
  ['0.1 + 0.2', 0.1 + 0.2],
  ['large float', 1.7976931348623157e308],
  ['1e21', 1e21],
  ['tiny float', 5e-324],
  ['small negative float', -2.2250738585072014e-308],
  ['large integer', 2 ** 53 + 2],
  ['true', true],
  ['false', false],
  ['deep nesting', deep],
]

/** A string field value that carries unicode and control characters. */
const odd = (base, i) => `${base}-${i}-ü😀\u0001\u001f\t\u2028`

const events = (first, count, clientId) =>
  SHAPES.slice(0, count).map(([, args], i) => {
    const seqNum = first + i
    const e = { name: odd(`shape/${SHAPES[i][0]}-v1`, seqNum), seqNum, parentSeqNum: seqNum - 1, clientId: odd(clientId, i), sessionId: odd('session', i) }
    if (args !== ABSENT) e.args = args
    return e
  })

/** What a path delivered, compared with what was sent: field by field, `args` presence included. */
const assertSame = (delivered, sent, path, { raw }) => {
  assert.equal(delivered.length, sent.length, `${path}: ${delivered.length} events, expected ${sent.length}`)
  sent.forEach((s, i) => {
    const d = delivered[i]
    const label = `${path}, event ${s.seqNum} (${SHAPES[(s.seqNum - 1) % SHAPES.length][0]})`
    for (const field of ['name', 'seqNum', 'parentSeqNum', 'clientId', 'sessionId']) assert.deepEqual(d[field], s[field], `${label}: ${field}`)
    if (raw) assert.equal('args' in d, 'args' in s, `${label}: args ${'args' in s ? 'present' : 'absent'} in the JSON`)
    assert.deepEqual(d.args, s.args, `${label}: args`)
  })
}

test(
  'every shape of args, and odd characters in every string field, come back identical on every path',
  { skip: oursOnly('returns an absent args as null from history pulls (PROTOCOL.md 4.3)') },
  async () => {
    const storeId = freshStoreId('args')
    const N = SHAPES.length
    const wsSent = events(1, N, 'pusher-ws')
    const httpSent = events(N + 1, N, 'pusher-http')
    const all = [...wsSent, ...httpSent]

    const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
    const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
    const H = await makeClient({ url: server.url, storeId, clientId: 'client-H', transport: 'http' })
    const rawLive = await rawConnect(server, { storeId })
    const rawHist = await rawConnect(server, { storeId })
    const liveA = A.livePull()
    const liveB = B.livePull()
    let C
    try {
      // a raw live pull, whose frames are read as text
      const liveId = nextId()
      rawLive.send(pullRequest({ id: liveId, storeId, live: true }))
      await rawLive.waitFor((m) => m?._tag === 'Chunk' && m.requestId === liveId, 10_000, 'raw live pull history')
      await waitFor('the history part of both published live pulls', () => liveA.items.length > 0 && liveB.items.length > 0, 10_000, {
        observe: () => `A has ${liveA.items.length} items, B has ${liveB.items.length}`,
      })

      await A.push(wsSent) // over WebSocket, by the published client
      await H.push(httpSent) // over HTTP, by the published client

      const decoded = (items) => items.map((b) => b.eventEncoded)
      assertSame(decoded(await liveA.waitForEvents(2 * N, 15_000)), all, "pusher's own live pull (published client)", { raw: false })
      assertSame(decoded(await liveB.waitForEvents(2 * N, 15_000)), all, "another client's live pull (published client)", { raw: false })

      const rawLiveEvents = () =>
        rawLive.messages
          .filter((m) => m.json?._tag === 'Chunk' && m.json.requestId === liveId)
          .flatMap((m) => m.json.values[0].batch.map((b) => b.eventEncoded))
      await waitFor(`${2 * N} events on the raw live pull`, () => rawLiveEvents().length >= 2 * N, 15_000, { observe: () => `${rawLiveEvents().length} events` })
      assertSame(rawLiveEvents(), all, 'raw live pull (WebSocket broadcast, JSON text)', { raw: true })

      C = await makeClient({ url: server.url, storeId, clientId: 'client-C' })
      assertSame(decoded((await C.collectPull()).flatMap((i) => i.batch)), all, 'history pull (published client, WebSocket)', { raw: false })
      const { responses } = await rawCollectPull(rawHist, { storeId })
      assertSame(responses.flatMap((r) => r.batch.map((b) => b.eventEncoded)), all, 'history pull (raw WebSocket, JSON text)', { raw: true })

      const httpItems = await H.collectPull()
      assertSame(decoded(httpItems.flatMap((i) => i.batch)), all, 'HTTP pull (published makeHttpSync)', { raw: false })
      const res = await rawHttp(server, { storeId, body: httpPull(storeId) })
      assert.equal(res.status, 200)
      const httpEvents = res.json.filter((m) => m._tag === 'Chunk').flatMap((m) => m.values[0].batch.map((b) => b.eventEncoded))
      assertSame(httpEvents, all, 'HTTP pull (raw, JSON text)', { raw: true })
    } finally {
      await liveA.stop()
      await liveB.stop()
      for (const c of [A, B, H, C]) await c?.close()
      await rawLive.close()
      await rawHist.close()
    }
  },
)
