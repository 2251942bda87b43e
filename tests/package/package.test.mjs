// The npm package as an app gets it: the tarball installed into an install root outside the
// repository with only Node on PATH (no Rust toolchain, no @livestore package), and app Workers
// in the shapes LiveStore's docs and sync-cf's options give (tests/package/apps), each run by the
// root's own `wrangler dev` and driven by the published clients (WebSocket, HTTP, and a LiveStore
// store in another Worker's Durable Object over DO-RPC) and by raw frames.
//
// Every app runs on every target of rig.mjs: ours under wrangler 4.50.0 and the repository's, and
// the reference (the same app files with the import line switched back to
// `@livestore/sync-cf/cf-worker`). Where the reference behaves differently, its test says so in its
// name ("reference: …") and asserts what the reference does, so every difference is a tested
// decision. Run by tests/package/run.mjs (`npm run test:package`).
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, test } from 'node:test'

import { mintHs256 } from '../../scripts/lib/hs256.mjs'
import {
  encodedFailure,
  ev,
  eventsOf,
  freshStoreId,
  httpPull,
  httpPush,
  makeClient,
  nextId,
  pullRequest,
  pushRequest,
  rawCollectPull,
  rawConnect,
  rawHttp,
  rawPush,
  seqNumsOf,
} from '../e2e/harness.mjs'
import { doRpcPing } from '../support/do-rpc-client.mjs'
import { REFUSED_STORE_IDS, allTodos, events, openStore, runRefusedStore } from '../support/refused-store.mjs'
import { waitFor } from '../support/wait.mjs'
import { startApp, TARGETS } from './rig.mjs'

/** The HS256 secret of the Auth page app (in its worker.js) and of the jwt-vars app's JWT_SECRET. */
const SECRET = 'package-test-secret-0123456789abcdef'
const nowSec = () => Math.floor(Date.now() / 1000)
const token = (expInSeconds = 600, secret = SECRET) => mintHs256({ sub: 'user-1', exp: nowSec() + expInSeconds }, secret)

/** What validatePayload's refusal answers (400), in the reference's words: String(UnknownError). */
const validateRefusal = (cause) => `UnknownError: { "cause": ${cause}, "note": undefined, "payload": undefined }`

/** The status and body of a WebSocket upgrade that must be refused. */
const refusedUpgrade = async (app, { storeId = freshStoreId('pkg-refused'), payload, headers } = {}) => {
  const e = await rawConnect(app, { storeId, payload, headers }).then(
    async (conn) => {
      await conn.close()
      return undefined
    },
    (error) => error,
  )
  assert.ok(e?.status !== undefined, `the upgrade is refused (${e ?? 'it was accepted'})`)
  return { status: e.status, body: e.body }
}

/** Every event of the store, read over a fresh raw socket. */
const storedEvents = async (app, { storeId, payload, headers }) => {
  let timer
  const conn = await Promise.race([
    rawConnect(app, { storeId, payload, headers }),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to a WebSocket upgrade within 20 s (${storeId})`)), 20_000))),
  ]).finally(() => clearTimeout(timer))
  try {
    return eventsOf((await rawCollectPull(conn, { storeId })).responses)
  } finally {
    await conn.close()
  }
}

/** Starts app `name` of `target` before the suite's first test and stops it after its last. */
const useApp = (target, name, options) => {
  const app = {}
  before(async () => Object.assign(app, await startApp(target, name, options)))
  after(async () => app.stop?.())
  return app
}

/** The notify-hooks app's ADMIN_SECRET (its wrangler.toml). */
const ADMIN_SECRET = 'package-test-admin-secret-0123456789'

const cookie = (session) => ({ Cookie: `theme=dark; session=${session}` })
const ADA = 'session-ada-0123'
const BOB = 'session-bob-4567'

for (const target of TARGETS) {
  const ours = target.kind === 'ours'
  /** The test's name on ours, or on the reference where it behaves otherwise. */
  const named = (oursName, refName) => (ours ? oursName : `reference: ${refName}`)

  describe(target.name, () => {
    // -----------------------------------------------------------------------------------------
    describe("auth-page (LiveStore's Auth page: jose validatePayload, no syncBackendBinding)", () => {
      const app = useApp(target, 'auth-page')
      const payloadOf = (authToken) => ({ authToken })

      test('missing, bad and expired tokens get 400 with the reference text', async () => {
        const missing = await refusedUpgrade(app, {})
        assert.equal(missing.status, 400)
        assert.equal(missing.body, validateRefusal('Error: Missing auth token'))
        const bad = await refusedUpgrade(app, { payload: payloadOf('not-a-jwt') })
        assert.equal(bad.status, 400)
        assert.match(bad.body, /^UnknownError: \{ "cause": JWSInvalid: /)
        const expired = await refusedUpgrade(app, { payload: payloadOf(token(-60)) })
        assert.equal(expired.status, 400)
        assert.match(expired.body, /^UnknownError: \{ "cause": JWTExpired: /)
      })

      test(
        named(
          'a valid token syncs through the published client; onPush and onPull get the store and the payload',
          'a valid token gets 424 over WebSocket and HTTP: without syncBackendBinding it finds no Durable Object binding',
        ),
        async () => {
          const storeId = freshStoreId('pkg-auth')
          if (!ours) {
            const failed = "Failed dependency: Required Durable Object binding 'undefined' not available"
            assert.deepEqual(await refusedUpgrade(app, { storeId, payload: payloadOf(token()) }), { status: 424, body: failed })
            const http = await rawHttp(app, { storeId, payload: payloadOf(token()), body: httpPush(storeId, [ev(1)]) })
            assert.deepEqual({ status: http.status, body: http.text }, { status: 424, body: failed })
            return
          }
          const client = await makeClient({ url: app.wsUrl, storeId, payload: payloadOf(token()), timeoutMs: 20_000 })
          try {
            await client.run(client.backend.connect)
            await client.run(client.backend.push([ev(1), ev(2)]))
            assert.deepEqual(seqNumsOf(await client.collectPull()), [1, 2])
          } finally {
            await client.close()
          }
          await app.waitForOutput(new RegExp(`onPush store=${storeId} events=2 token=string`))
          await app.waitForOutput(new RegExp(`onPull store=${storeId} cursor=None`))
        },
      )

      test(
        named(
          'offline changes sync after the client signs in again (a LiveStore store, refused, then reopened with a valid token)',
          'a LiveStore store with a valid token stays offline: every upgrade gets 424',
        ),
        async () => {
          const storeId = freshStoreId('pkg-auth-offline')
          const dir = mkdtempSync(path.join(os.tmpdir(), 'package-auth-offline-'))
          const stores = []
          try {
            // signed with another secret (ours), or valid (the reference refuses every upgrade anyway)
            const first = ours ? token(600, 'another-secret-0123456789abcdefghijkl') : token()
            const offline = await runRefusedStore({ url: app.url, storeId, dir, syncPayload: payloadOf(first) })
            assert.deepEqual(
              offline.second.map((t) => t.id),
              REFUSED_STORE_IDS,
              'the store works locally',
            )
            assert.ok(offline.refusedUpgrades >= 2, 'its client was refused and tried again')
            if (!ours) return
            const valid = payloadOf(token())
            assert.deepEqual(await storedEvents(app, { storeId, payload: valid }), [], 'nothing reached the server')

            // the same client and local storage (the app restarted), signed in
            const A = await openStore({ url: app.url, storeId, clientId: 'client-A', syncPayload: valid, storage: { type: 'fs', baseDirectory: dir } })
            stores.push(A)
            assert.deepEqual(A.query(allTodos), offline.second, 'local data survived the restart')
            // closed by a sentinel: one more todo, committed after the 6 are on the server
            await waitFor('the 6 offline todos reach the server', async () => (await storedEvents(app, { storeId, payload: valid })).length >= 6)
            A.commit(events.todoCreated({ id: 'A-6', text: 'signed in', author: 'client-A' }))
            await waitFor('the sentinel reaches the server', async () =>
              (await storedEvents(app, { storeId, payload: valid })).some((e) => e.args.id === 'A-6'),
            )
            const onServer = await storedEvents(app, { storeId, payload: valid })
            assert.deepEqual(
              onServer.map((e) => [e.seqNum, e.args.id]),
              [...REFUSED_STORE_IDS, 'A-6'].map((id, i) => [i + 1, id]),
              'each offline todo once, in order, then the sentinel',
            )
          } finally {
            for (const s of stores) await s.shutdownPromise().catch(() => {})
            rmSync(dir, { recursive: true, force: true })
          }
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe('cookie-session (validatePayload reads a session cookie; forwardHeaders; onPush refuses an event name)', () => {
      const app = useApp(target, 'cookie-session')

      test('no or unknown session cookie: 400, over WebSocket and HTTP', async () => {
        const refusal = { status: 400, body: validateRefusal('Error: No valid session cookie') }
        assert.deepEqual(await refusedUpgrade(app, {}), refusal)
        assert.deepEqual(await refusedUpgrade(app, { headers: cookie('session-guessed') }), refusal)
        const storeId = freshStoreId('pkg-cookie')
        const http = await rawHttp(app, { storeId, body: httpPush(storeId, [ev(1)]) })
        assert.deepEqual({ status: http.status, body: http.text }, refusal)
      })

      test(
        named(
          "onPush refuses a batch by the cookie's user: refused whole with the hook's error, nothing stored; another client's live pull and next push are unaffected",
          "onPush refuses a batch: refused whole, but a hook that throws synchronously is reported as UnknownException, not the hook's error; another client is unaffected",
        ),
        async () => {
          const storeId = freshStoreId('pkg-cookie')
          // the published client sends its payload in the URL and with every request: so does ada
          const laptop = { device: 'laptop' }
          const ada = await rawConnect(app, { storeId, payload: laptop, headers: cookie(ADA) })
          const bob = await rawConnect(app, { storeId, headers: cookie(BOB) })
          try {
            const live = nextId()
            bob.send(pullRequest({ id: live, storeId, live: true }))
            const liveEvents = () =>
              bob.messages.filter((m) => m.json?._tag === 'Chunk' && m.json.requestId === live).flatMap((m) => eventsOf(m.json.values))
            await bob.waitFor((m) => m?._tag === 'Chunk' && m.requestId === live, 10_000, "the live pull's first page")

            const refused = encodedFailure(await rawPush(ada, { storeId, payload: laptop, batch: [ev(1), ev(2, 1, { name: 'v1.Forbidden' })] }))
            assert.deepEqual(
              refused,
              ours
                ? { cause: { name: 'Error', message: 'ada may not push v1.Forbidden' }, _tag: 'UnknownError' }
                : { cause: { name: 'UnknownException', message: 'An unknown error occurred in Effect.try' }, _tag: 'UnknownError' },
            )
            await app.waitForOutput(new RegExp(`onPush store=${storeId} user=ada events=2 payload=\\{"device":"laptop"\\}`))
            // bob's next push is the store's first event; ada's sentinel follows it
            assert.equal((await rawPush(bob, { storeId, batch: [ev(1, 0, { clientId: 'client-B' })] }))._tag, 'Success')
            assert.equal((await rawPush(ada, { storeId, payload: laptop, batch: [ev(2, 1)] }))._tag, 'Success')
            await waitFor('both events on the live pull', () => liveEvents().length >= 2, 10_000, { observe: liveEvents })
            assert.deepEqual(
              liveEvents().map((e) => [e.seqNum, e.clientId, e.name]),
              [
                [1, 'client-B', 'todoCreated-v1'],
                [2, 'client-A', 'todoCreated-v1'],
              ],
              'nothing of the refused push reached the live pull',
            )
            assert.deepEqual(seqNumsOf((await rawCollectPull(ada, { storeId })).responses), [1, 2])
          } finally {
            await ada.close()
            await bob.close()
          }
        },
      )

      test(
        named(
          "an HTTP client (makeHttpSync sending the cookie) pushes and pulls; onPush gets the forwarded cookie and the request's payload",
          'an HTTP client (makeHttpSync sending the cookie) pushes and pulls; onPush gets the forwarded cookie but payload undefined (LiveStore issue #1417)',
        ),
        async () => {
          const storeId = freshStoreId('pkg-cookie-http')
          const http = await makeClient({
            url: app.url,
            storeId,
            payload: { device: 'phone' },
            transport: 'http',
            options: { headers: cookie(BOB) },
            timeoutMs: 20_000,
          })
          try {
            await http.push([ev(1), ev(2)])
            assert.deepEqual(seqNumsOf(await http.collectPull()), [1, 2])
          } finally {
            await http.close()
          }
          await app.waitForOutput(new RegExp(`onPush store=${storeId} user=bob events=2 payload=${ours ? '\\{"device":"phone"\\}' : 'undefined'}`))
          const refused = await rawHttp(app, {
            storeId,
            payload: { device: 'phone' },
            headers: cookie(BOB),
            body: httpPush(storeId, [ev(3, 2, { name: 'v1.Forbidden' })]),
          })
          assert.equal(refused.status, 200)
          assert.deepEqual(
            encodedFailure(refused.json[0].exit),
            ours
              ? { cause: { name: 'Error', message: 'bob may not push v1.Forbidden' }, _tag: 'UnknownError' }
              : { cause: { name: 'UnknownException', message: 'An unknown error occurred in Effect.try' }, _tag: 'UnknownError' },
          )
          assert.deepEqual(
            (await storedEvents(app, { storeId, headers: cookie(BOB) })).map((e) => e.seqNum),
            [1, 2],
            'nothing of the refused push is stored',
          )
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe('effect-hooks (Effect-returning hooks, syncPayloadSchema)', () => {
      const app = useApp(target, 'effect-hooks')

      test('syncPayloadSchema and validatePayload refuse with 400; an onPush Effect that fails refuses the push with its error', async () => {
        const storeId = freshStoreId('pkg-effect')
        const wrongShape = await refusedUpgrade(app, { payload: { authToken: 42 } })
        assert.equal(wrongShape.status, 400)
        assert.match(wrongShape.body, /Expected string, actual 42/)
        const wrongToken = await refusedUpgrade(app, { payload: { authToken: 'guess' } })
        assert.deepEqual(wrongToken, { status: 400, body: validateRefusal('Error: wrong token') })
        const conn = await rawConnect(app, { storeId, payload: { authToken: 'letmein' } })
        try {
          const refused = encodedFailure(await rawPush(conn, { storeId, batch: [ev(1, 0, { name: 'v1.Forbidden' })] }))
          assert.deepEqual(refused, { cause: { name: 'Error', message: 'refused by an Effect' }, _tag: 'UnknownError' })
          assert.equal((await rawPush(conn, { storeId, batch: [ev(1)] }))._tag, 'Success')
          assert.deepEqual(seqNumsOf((await rawCollectPull(conn, { storeId })).responses), [1])
        } finally {
          await conn.close()
        }
      })
    })

    // -----------------------------------------------------------------------------------------
    describe('custom-fetch (handleSyncRequest in its own fetch) with WebSocket, HTTP and DO-RPC clients', () => {
      const app = useApp(target, 'custom-fetch', { doRpcClient: true })

      test(
        named(
          "other routes are the app's; makeWsSync and makeHttpSync sync; handleSyncRequest's headers and http.responseHeaders are on the object's answer",
          "other routes are the app's; makeWsSync and makeHttpSync sync; only http.responseHeaders are on the object's answer, not handleSyncRequest's headers",
        ),
        async () => {
          const health = await fetch(`${app.url}/health`)
          assert.equal(await health.text(), 'app ok')
          const elsewhere = await fetch(`${app.url}/elsewhere`)
          assert.equal(elsewhere.status, 404)
          await elsewhere.arrayBuffer()
          const storeId = freshStoreId('pkg-custom')
          const ws = await makeClient({ url: app.wsUrl, storeId, timeoutMs: 20_000 })
          try {
            await ws.push([ev(1), ev(2)])
          } finally {
            await ws.close()
          }
          const http = await makeClient({ url: app.url, storeId, transport: 'http', timeoutMs: 20_000 })
          try {
            await http.push([ev(3)])
            assert.deepEqual(seqNumsOf(await http.collectPull()), [1, 2, 3])
          } finally {
            await http.close()
          }
          const answer = await fetch(`${app.url}/?storeId=${storeId}&transport=http`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ _tag: 'Request', id: '1', tag: 'SyncHttpRpc.Ping', payload: { storeId }, traceId: 't', spanId: 's', sampled: false, headers: [] }),
          })
          assert.equal(answer.status, 200)
          await answer.arrayBuffer()
          // the reference adds handleSyncRequest's headers to its own refusals only (400, 424, 426)
          assert.equal(answer.headers.get('x-app'), ours ? 'custom' : null, "handleSyncRequest's headers")
          assert.equal(answer.headers.get('cache-control'), 'no-store', 'http.responseHeaders')
        },
      )

      test(
        named(
          "LiveStore stores in another Worker's Durable Objects (adapter-cloudflare) sync over DO-RPC with the app's object, both ways",
          "LiveStore stores in another Worker's Durable Objects sync over DO-RPC, but only the last one to subscribe gets live updates",
        ),
        async () => {
          const storeId = freshStoreId('pkg-dorpc')
          const one = app.client(storeId, 'one')
          const two = app.client(storeId, 'two')
          await one.boot()
          await two.boot()
          await one.commit('from-one', 'committed in a Durable Object')
          await two.waitForTodos((todos) => todos.some((t) => t.id === 'from-one'), 30_000, 'the todo of the other client object')
          // a WebSocket client sees it, and its own event reaches both client objects' live pulls
          const ws = await makeClient({ url: app.wsUrl, storeId, clientId: 'client-ws', timeoutMs: 20_000 })
          try {
            const seen = eventsOf(await ws.collectPull())
            assert.deepEqual(
              seen.map((e) => [e.name, e.args.id]),
              [['v1.TodoCreated', 'from-one']],
            )
            const head = seen.at(-1).seqNum
            await ws.push([ev(head + 1, head, { name: 'v1.TodoCreated', args: { id: 'from-ws', text: 'over a WebSocket', author: 'ws' }, clientId: 'client-ws' })])
          } finally {
            await ws.close()
          }
          // the reference keeps one DO-RPC subscription per store (tests/e2e/24 holds it too): `two`'s
          for (const c of ours ? [one, two] : [two]) {
            const { todos } = await c.waitForTodos((todos) => todos.some((t) => t.id === 'from-ws'), 30_000, "the WebSocket client's todo")
            assert.deepEqual(
              todos.map((t) => t.id),
              ['from-one', 'from-ws'],
            )
          }
          if (!ours) {
            // one broadcast went to the subscriber there is: `one` was not among them
            assert.deepEqual(
              (await one.todos()).todos.map((t) => t.id),
              ['from-one'],
            )
          }
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe("d1-ws-only (storage: D1, enabledTransports: ['ws'], a binding not called SYNC_BACKEND_DO)", () => {
      const app = useApp(target, 'd1-ws-only', { doRpcClient: true })

      test("WebSocket clients sync, and the events are in D1's database, not in the object's own SQLite", async () => {
        const storeId = freshStoreId('pkg-d1')
        const writer = await makeClient({ url: app.wsUrl, storeId, timeoutMs: 20_000 })
        try {
          await writer.push([ev(1), ev(2), ev(3, 2, { name: 'v1.Third' })])
        } finally {
          await writer.close()
        }
        const reader = await makeClient({ url: app.wsUrl, storeId, clientId: 'client-R', timeoutMs: 20_000 })
        try {
          assert.deepEqual(seqNumsOf(await reader.collectPull()), [1, 2, 3])
        } finally {
          await reader.close()
        }
        // the local D1 database and the object's SQLite are files under the persist folder
        const table = `eventlog_7_${storeId.replace(/[^A-Za-z0-9]/g, '_')}`
        const sqliteFiles = (dir) =>
          readdirSync(dir)
            .filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite')
            .map((f) => path.join(dir, f))
        const d1Files = sqliteFiles(path.join(app.persistTo, 'v3/d1/miniflare-D1DatabaseObject'))
        assert.equal(d1Files.length, 1, 'one local D1 database')
        const d1 = new DatabaseSync(d1Files[0], { readOnly: true })
        try {
          assert.deepEqual(
            d1.prepare(`SELECT seqNum, parentSeqNum, name FROM "${table}" ORDER BY seqNum`).all().map((r) => ({ ...r })),
            [
              { seqNum: 1, parentSeqNum: 0, name: 'todoCreated-v1' },
              { seqNum: 2, parentSeqNum: 1, name: 'todoCreated-v1' },
              { seqNum: 3, parentSeqNum: 2, name: 'v1.Third' },
            ],
          )
        } finally {
          d1.close()
        }
        const objectFiles = sqliteFiles(path.join(app.persistTo, 'v3/do/package-test-d1-ws-only-SyncStore'))
        assert.ok(objectFiles.length >= 1, "the object's own SQLite exists")
        for (const file of objectFiles) {
          const db = new DatabaseSync(file, { readOnly: true })
          try {
            const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all().map((r) => r.name)
            assert.ok(!tables.includes(table), `no event table in the object's SQLite (${tables.join(', ')})`)
          } finally {
            db.close()
          }
        }
      })

      test(
        named(
          'an HTTP sync request is refused: 403 naming the transports served',
          'an HTTP sync request fails with 500: its object throws "Transport http is not enabled", then "Invalid statusText" building its own 500',
        ),
        async () => {
          const storeId = freshStoreId('pkg-d1-http')
          const http = await rawHttp(app, { storeId, body: httpPush(storeId, [ev(1)]) })
          if (ours) {
            assert.deepEqual({ status: http.status, body: http.text }, { status: 403, body: 'The http transport is disabled on this server (TRANSPORTS=ws)' })
          } else {
            // its object catches the first error into `new Response('Error', { status: 500, statusText:
            // <the cause, several lines> })`, which throws: the Worker's request fails (wrangler dev
            // answers its error page)
            assert.equal(http.status, 500)
            await app.waitForOutput(/Transport http is not enabled \(based on `options.enabledTransports`\)/)
            await app.waitForOutput(/TypeError: Invalid statusText/)
          }
          assert.deepEqual(await storedEvents(app, { storeId }), [], 'nothing stored')
          // the refusal is answered without reading the body: the object reads and drops it first
          // (js/object.mjs). Without that, wrangler 4.50.0's runtime logs this error a moment after
          // the answer and often stalls the next request (the read-back above then times out); the
          // check can miss a late line, never fail on a good server
          assert.ok(!app.output().includes("Can't read from request stream after response has been sent"), 'no uncaught body error')
        },
      )

      test('a DO-RPC call is refused: rpc() throws, naming the transport', async () => {
        const storeId = freshStoreId('pkg-d1-dorpc')
        const answer = await app.rawRpc(storeId, { messages: [doRpcPing({ storeId })] })
        assert.equal(answer.kind, 'throw', JSON.stringify(answer))
        assert.equal(
          answer.message,
          ours ? 'The do-rpc transport is disabled on this server (TRANSPORTS=ws)' : 'Do RPC transport is not enabled (based on `options.enabledTransports`)',
        )
      })
    })

    // -----------------------------------------------------------------------------------------
    describe('slow-hook (onPush waits 1 s for v1.Slow… batches)', () => {
      const app = useApp(target, 'slow-hook')

      /** Sends a push on `conn` and returns its request id (the Exit is awaited by the caller). */
      const sendPush = (conn, storeId, batch) => {
        const id = nextId()
        conn.send(pushRequest({ id, storeId, batch }))
        return id
      }
      const exitOf = (conn, id) => conn.waitFor((m) => m?._tag === 'Exit' && m.requestId === id, 20_000, `Exit of push ${id}`).then((m) => m.exit)
      /**
       * How the push that lost the race for seqNum 1 is answered: ours admits it after its hook
       * against the current head; the reference checked the head it read before the hook and
       * fails on the event table's primary key instead.
       */
      const assertLost = (failure, storeId) => {
        if (ours) return assert.deepEqual(failure, { _tag: 'ServerAheadError', minimumExpectedNum: 1, providedNum: 0 })
        const table = `eventlog_7_${storeId.replace(/[^A-Za-z0-9]/g, '_')}`
        assert.deepEqual(failure, {
          _tag: 'UnknownError',
          cause: { name: 'Error', message: `UNIQUE constraint failed: ${table}.seqNum: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)` },
          payload: { dbName: table, stage: 'insert' },
        })
      }

      test(
        named(
          'two slow pushes with the same parent sent at once from two sockets: exactly one Success, the other ServerAheadError; the log is one chain',
          'two slow pushes with the same parent sent at once from two sockets: exactly one Success, the other UnknownError (UNIQUE constraint failed), not ServerAheadError; the log is one chain',
        ),
        async () => {
          const storeId = freshStoreId('pkg-slow-race')
          const a = await rawConnect(app, { storeId })
          const b = await rawConnect(app, { storeId })
          try {
            const ids = [sendPush(a, storeId, [ev(1, 0, { name: 'v1.SlowA' })]), sendPush(b, storeId, [ev(1, 0, { name: 'v1.SlowB', clientId: 'client-B' })])]
            const exits = await Promise.all([exitOf(a, ids[0]), exitOf(b, ids[1])])
            const winners = exits.flatMap((e, i) => (e._tag === 'Success' ? [i] : []))
            assert.equal(winners.length, 1, `exactly one Success: ${JSON.stringify(exits)}`)
            assertLost(encodedFailure(exits[1 - winners[0]]), storeId)
            const stored = await storedEvents(app, { storeId })
            assert.deepEqual(
              stored.map((e) => [e.seqNum, e.parentSeqNum, e.name]),
              [[1, 0, winners[0] === 0 ? 'v1.SlowA' : 'v1.SlowB']],
            )
            // the loser rebases on the winner, and the chain goes on
            const rebased = await rawPush(winners[0] === 0 ? b : a, { storeId, batch: [ev(2, 1, { name: 'v1.SlowAgain' })] })
            assert.equal(rebased._tag, 'Success')
            assert.deepEqual(
              (await storedEvents(app, { storeId })).map((e) => [e.seqNum, e.parentSeqNum]),
              [
                [1, 0],
                [2, 1],
              ],
            )
          } finally {
            await a.close()
            await b.close()
          }
        },
      )

      test(
        named(
          "while a slow push waits in its hook, another client's push is answered first and a live pull gets its event; the slow one then gets ServerAheadError",
          "while a slow push waits in its hook, another client's push is answered first and a live pull gets its event; the slow one then gets UnknownError (UNIQUE constraint failed)",
        ),
        async () => {
          const storeId = freshStoreId('pkg-slow-order')
          const a = await rawConnect(app, { storeId })
          const b = await rawConnect(app, { storeId })
          const c = await rawConnect(app, { storeId })
          // the order in which the answers under test arrive, whichever socket they come on (each
          // recorded by the socket's own message listener, as it arrives)
          const order = []
          const record = (conn, label, pred) =>
            conn.ws.on('message', (data) => {
              const m = JSON.parse(data.toString())
              if (pred(m)) order.push(label)
            })
          try {
            const live = nextId()
            c.send(pullRequest({ id: live, storeId, live: true }))
            await c.waitFor((m) => m?._tag === 'Chunk' && m.requestId === live, 10_000, "the live pull's first page")
            record(c, 'live pull gets event 1', (m) => m._tag === 'Chunk' && m.requestId === live && eventsOf(m.values).some((e) => e.seqNum === 1))
            const slowId = nextId()
            const fastId = nextId()
            record(a, 'slow push answered', (m) => m._tag === 'Exit' && m.requestId === slowId)
            record(b, 'other push answered', (m) => m._tag === 'Exit' && m.requestId === fastId)
            a.send(pushRequest({ id: slowId, storeId, batch: [ev(1, 0, { name: 'v1.SlowA' })] }))
            await app.waitForOutput(new RegExp(`onPush slow start store=${storeId} event=v1.SlowA`), 'the slow push in its hook')
            b.send(pushRequest({ id: fastId, storeId, batch: [ev(1, 0, { clientId: 'client-B' })] }))
            const [slow, fast] = await Promise.all([exitOf(a, slowId), exitOf(b, fastId)])
            await waitFor('the live pull to get event 1', () => order.includes('live pull gets event 1'), 10_000, { observe: () => order })
            assert.equal(fast._tag, 'Success')
            await app.waitForOutput(new RegExp(`onPush slow end store=${storeId} event=v1.SlowA`), 'the slow hook ran to its end')
            assert.ok(order.indexOf('other push answered') < order.indexOf('slow push answered'), `the other push first: ${order}`)
            assert.ok(order.indexOf('live pull gets event 1') < order.indexOf('slow push answered'), `the live pull before the slow push's answer: ${order}`)
            assertLost(encodedFailure(slow), storeId)
            assert.deepEqual(
              (await storedEvents(app, { storeId })).map((e) => [e.seqNum, e.clientId]),
              [[1, 'client-B']],
            )
          } finally {
            await a.close()
            await b.close()
            await c.close()
          }
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe('push-res-throws (onPushRes throws)', () => {
      const app = useApp(target, 'push-res-throws')

      test(
        named(
          'a push is answered Success and stored although onPushRes throws; the error is logged (hook.error)',
          'a push is stored, but answered UnknownError (an UnknownException: onPushRes threw synchronously)',
        ),
        async () => {
          const storeId = freshStoreId('pkg-pushres')
          const conn = await rawConnect(app, { storeId })
          try {
            const exit = await rawPush(conn, { storeId, batch: [ev(1), ev(2)] })
            if (ours) {
              assert.equal(exit._tag, 'Success')
              await app.waitForOutput(/"event":"hook\.error".*"hook":"onPushRes".*"error":"Error: onPushRes failed"/)
            } else {
              assert.deepEqual(encodedFailure(exit), { cause: { name: 'UnknownException', message: 'An unknown error occurred in Effect.try' }, _tag: 'UnknownError' })
            }
            assert.deepEqual(seqNumsOf((await rawCollectPull(conn, { storeId })).responses), [1, 2], 'the push is stored')
          } finally {
            await conn.close()
          }
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe('notify-hooks (onPushRes, onPullRes, a refusing onPull, forwardHeaders as a function, binding STORES)', () => {
      const app = useApp(target, 'notify-hooks')
      const onPushResLines = () => app.output().match(/^onPushRes$/gm)?.length ?? 0

      test(
        ours
          ? 'onPushRes after every accepted push; onPullRes for every PullResponse a client gets (a long HTTP pull whole, the part streamed after its first window included; a live broadcast), never for a broadcast no client gets; the admin API reaches the STORES objects'
          : 'reference: onPushRes after every accepted push; onPullRes for every PullResponse a client gets (a long HTTP pull whole; a live broadcast), never for a broadcast no client gets',
        async () => {
          const storeId = freshStoreId('pkg-notify')
          const before = onPushResLines()
          // 2,000 events in HTTP pushes of 100 (no WebSocket open: their broadcasts reach no one),
          // then one HTTP pull of them all: more than one window (8 pages of 100)
          for (let first = 1; first <= 2000; first += 100) {
            const answer = await rawHttp(app, { storeId, body: httpPush(storeId, Array.from({ length: 100 }, (_, i) => ev(first + i))) })
            assert.equal(answer.json?.[0]?.exit?._tag, 'Success', `push from ${first}: ${answer.text.slice(0, 300)}`)
          }
          await waitFor('an onPushRes line per push', () => onPushResLines() - before >= 20)
          const answer = await rawHttp(app, { storeId, body: httpPull(storeId) })
          assert.equal(answer.status, 200, answer.text.slice(0, 300))
          const responses = answer.json.filter((f) => f._tag === 'Chunk').flatMap((c) => c.values)
          assert.deepEqual(seqNumsOf(responses), Array.from({ length: 2000 }, (_, i) => i + 1), 'the HTTP pull is whole')
          const backendId = responses[0].backendId
          const noticed = () => [...app.output().matchAll(new RegExp(`^onPullRes backend=${backendId} events=(\\d+)$`, 'gm'))].map((m) => Number(m[1]))
          const sum = (xs) => xs.reduce((a, b) => a + b, 0)
          await waitFor('onPullRes for every PullResponse of the pull', () => sum(noticed()) >= 2000, 20_000, { observe: () => noticed() })
          assert.deepEqual(noticed(), responses.map((r) => r.batch.length), 'one onPullRes per PullResponse of the pull, in order, and none for the pushes')
          assert.equal(onPushResLines() - before, 20, 'one onPushRes per accepted push')
          // a live pull at the head, then one more push: its broadcast reaches the live pull
          const live = await rawConnect(app, { storeId })
          try {
            const id = nextId()
            live.send(pullRequest({ id, storeId, cursor: 2000, backendId, live: true }))
            await live.waitFor((m) => m?._tag === 'Chunk' && m.requestId === id, 10_000, "the live pull's first page")
            assert.equal((await rawHttp(app, { storeId, body: httpPush(storeId, [ev(2001)], backendId) })).json?.[0]?.exit?._tag, 'Success')
            await live.waitFor((m) => m?._tag === 'Chunk' && m.requestId === id && m.values.some((r) => r.batch.length === 1), 10_000, 'the broadcast')
            await waitFor('onPullRes for the broadcast', () => noticed().slice(responses.length).includes(1), 20_000, { observe: () => noticed().slice(responses.length) })
          } finally {
            await live.close()
          }
          if (ours) {
            const info = await fetch(`${app.url}/admin/stores/${storeId}`, { headers: { Authorization: `Bearer ${ADMIN_SECRET}` } })
            assert.equal(info.status, 200)
            assert.equal((await info.json()).head, 2001, 'the admin API reads the store of the STORES binding')
          }
        },
      )

      test(
        named(
          'an onPull that throws fails that pull with its error (forwarded header included); other pulls are served',
          'an onPull that throws fails that pull, as an UnknownException (the app\'s message is lost); other pulls are served',
        ),
        async () => {
          const storeId = freshStoreId('pkg-onpull')
          const closed = await rawConnect(app, { storeId, payload: { closed: true }, headers: { 'x-note': 'n-17' } })
          try {
            const id = nextId()
            closed.send(pullRequest({ id, storeId, payload: { closed: true } }))
            const exit = await closed.waitFor((m) => m?._tag === 'Exit' && m.requestId === id, 10_000, 'the refused pull')
            const message = ours ? 'pulls are closed (note: n-17)' : 'An unknown error occurred in Effect.try'
            assert.deepEqual(encodedFailure(exit.exit), { cause: { name: ours ? 'Error' : 'UnknownException', message }, _tag: 'UnknownError' })
          } finally {
            await closed.close()
          }
          assert.deepEqual(await storedEvents(app, { storeId }), [], 'another client pulls')
        },
      )

      test(
        named(
          'forwarded headers over the 3 KiB bound (the socket attachment holds 16 KiB in all) refuse the upgrade with 431, naming the bound',
          'forwarded headers of 4,000 bytes are kept with the socket (its attachment has room for them)',
        ),
        async () => {
          const headers = { 'x-note': 'n'.repeat(4000) }
          if (ours) {
            const refused = await refusedUpgrade(app, { headers })
            assert.equal(refused.status, 431)
            assert.match(refused.body, /forward/i)
          } else {
            assert.deepEqual(await storedEvents(app, { storeId: freshStoreId('pkg-big-headers'), headers }), [])
          }
        },
      )
    })

    // -----------------------------------------------------------------------------------------
    describe('jwt-vars (validatePayload with AUTH_MODE=jwt, JWT_SECRET, JWT_ANY_STORE)', { skip: ours ? undefined : 'the reference has no JWT vars' }, () => {
      const app = useApp(target, 'jwt-vars')

      test('a request needs both: validatePayload refusal 400, a missing or bad token 401, both valid syncs', async () => {
        const storeId = freshStoreId('pkg-jwt')
        const tenantRefused = validateRefusal('Error: unknown tenant other')
        // a valid token, but a payload validatePayload refuses
        assert.deepEqual(await refusedUpgrade(app, { storeId, payload: { tenant: 'other', authToken: token() } }), { status: 400, body: tenantRefused })
        // a payload it accepts, but no token, a bad one, an expired one
        for (const authToken of [undefined, 'not-a-jwt', token(600, 'another-secret-0123456789abcdefghijkl'), token(-60)]) {
          const refused = await refusedUpgrade(app, { storeId, payload: { tenant: 'acme', authToken } })
          assert.equal(refused.status, 401, `${authToken}: ${refused.body}`)
        }
        // neither: validatePayload answers first
        assert.deepEqual(await refusedUpgrade(app, { storeId, payload: { tenant: 'other' } }), { status: 400, body: tenantRefused })
        // the same over HTTP
        const post = (payload) => rawHttp(app, { storeId, payload, body: httpPush(storeId, [ev(1)]) })
        const http400 = await post({ tenant: 'other', authToken: token() })
        assert.deepEqual({ status: http400.status, body: http400.text }, { status: 400, body: tenantRefused })
        assert.equal((await post({ tenant: 'acme', authToken: 'not-a-jwt' })).status, 401)
        assert.deepEqual(await storedEvents(app, { storeId, payload: { tenant: 'acme', authToken: token() } }), [], 'nothing stored')
        // both valid: the published client syncs
        const client = await makeClient({ url: app.wsUrl, storeId, payload: { tenant: 'acme', authToken: token() }, timeoutMs: 20_000 })
        try {
          await client.push([ev(1), ev(2)])
          assert.deepEqual(seqNumsOf(await client.collectPull()), [1, 2])
        } finally {
          await client.close()
        }
      })

      test("a read-only token's push is refused by the server's rule before onPush runs; onPush sees the others", async () => {
        const viewerStore = freshStoreId('pkg-jwt-viewer')
        const viewerToken = mintHs256({ sub: 'viewer', exp: nowSec() + 600, readonly: true }, SECRET)
        const viewer = await rawConnect(app, { storeId: viewerStore, payload: { tenant: 'acme', authToken: viewerToken } })
        try {
          const refused = encodedFailure(await rawPush(viewer, { storeId: viewerStore, batch: [ev(1)] }))
          assert.equal(refused?.cause?.name, 'PushNotAllowedError', JSON.stringify(refused))
        } finally {
          await viewer.close()
        }
        // a sentinel: an editor's push to another store, whose onPush line comes after the viewer's would have
        const editorStore = freshStoreId('pkg-jwt-editor')
        const editor = await rawConnect(app, { storeId: editorStore, payload: { tenant: 'acme', authToken: token() } })
        try {
          assert.equal((await rawPush(editor, { storeId: editorStore, batch: [ev(1)] }))._tag, 'Success')
        } finally {
          await editor.close()
        }
        await app.waitForOutput(new RegExp(`onPush store=${editorStore} events=1`), "the editor's onPush line")
        assert.ok(!app.output().includes(`onPush store=${viewerStore}`), "onPush never saw the viewer's push")
        assert.deepEqual(await storedEvents(app, { storeId: viewerStore, payload: { tenant: 'acme', authToken: token() } }), [], 'nothing stored')
      })

      test('a token that expires on an open socket closes it with 4001 "Token expired"', async () => {
        const storeId = freshStoreId('pkg-jwt-expiry')
        const exp = nowSec() + 3
        const conn = await rawConnect(app, { storeId, payload: { tenant: 'acme', authToken: mintHs256({ sub: 'user-1', exp }, SECRET) } })
        try {
          const live = nextId()
          conn.send(pullRequest({ id: live, storeId, live: true }))
          await conn.waitFor((m) => m?._tag === 'Chunk' && m.requestId === live, 10_000, "the live pull's first page")
          await waitFor('the server to close the socket', () => conn.closeInfo, 20_000)
          assert.ok(Date.now() >= exp * 1000 - 1000, 'not closed before its token expired')
          assert.deepEqual(conn.closeInfo, { code: 4001, reason: 'Token expired' })
        } finally {
          await conn.close()
        }
      })
    })
  })
}
