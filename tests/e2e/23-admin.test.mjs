// The admin API and CLI (README "Operate it"): every route with the right secret, a wrong one and
// the API disabled; bad input gets a 4xx with a reason and changes nothing; export → import into
// another store gives an identical log (50,000 events, through the CLI, with the server's memory
// flat while it streams); a reset seen by a connected LiveStore store exactly as a backend reset
// (BackendIdMismatch → local data cleared → a new store syncs from zero).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { makeAdapter } from '@livestore/adapter-node'
import { Events, Schema, State, createStorePromise, makeSchema, makeShutdownDeferred, queryDb } from '@livestore/livestore'
import { makeWsSync } from '@livestore/sync-cf/client'
import { Deferred, Effect, LogLevel } from 'effect'

import {
  REPO,
  STORAGE,
  TARGET,
  evRange,
  freshStoreId,
  nextId,
  pullRequest,
  rawCollectPull,
  rawConnect,
  rawHttp,
  rawPush,
  serverLog,
  sleep,
  startServer,
  waitFor,
  waitForLog,
  httpPull,
} from './harness.mjs'
import { mintHs256 } from '../../scripts/lib/hs256.mjs'

const SKIP = TARGET === 'ref' ? 'the reference has no admin API' : undefined
const SECRET = 'an-admin-secret-for-the-e2e-suite'
const JWT_SECRET = 'a-jwt-secret-for-the-admin-tests-000000'

let server // admin enabled, sync JWTs required
let disabled // no ADMIN_SECRET
const dirs = []
before(async () => {
  if (SKIP) return
  ;[server, disabled] = await Promise.all([
    startServer({ env: { AUTH_MODE: 'jwt', JWT_SECRET, JWT_ANY_STORE: 'true', ADMIN_SECRET: SECRET, LOG_LEVEL: 'info' } }),
    startServer({ env: { AUTH_MODE: 'none' } }),
  ])
})
after(async () => {
  await Promise.all([server?.stop(), disabled?.stop()])
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const jwt = (claims) => mintHs256(claims, JWT_SECRET)
const tokenFor = () => jwt({ exp: Math.floor(Date.now() / 1000) + 3600 })
const payload = () => ({ authToken: tokenFor() })

const admin = (srv, p, { method = 'GET', secret = SECRET, body, headers = {} } = {}) =>
  fetch(`${srv.url}${p}`, {
    method,
    headers: { ...(secret === null ? {} : { authorization: `Bearer ${secret}` }), ...headers },
    body,
  })
const json = async (res) => ({ status: res.status, body: await res.json().catch(() => undefined) })

/** Pushes events 1..n (args of `argBytes` characters each) in pushes of 100 over one raw socket. */
const seed = async (storeId, n, argBytes = 20) => {
  const conn = await rawConnect(server, { storeId, payload: payload() })
  try {
    const filler = 'x'.repeat(argBytes)
    for (let from = 1; from <= n; from += 100) {
      const batch = evRange(from, Math.min(n, from + 99)).map((e) => ({ ...e, args: { ...e.args, filler } }))
      assert.deepEqual(await rawPush(conn, { storeId, batch }), { _tag: 'Success', value: {} })
    }
  } finally {
    await conn.close()
  }
}

/** The whole log as the sync protocol returns it. */
const pullAll = async (storeId) => {
  const conn = await rawConnect(server, { storeId, payload: payload() })
  try {
    return (await rawCollectPull(conn, { storeId })).responses.flatMap((r) => r.batch)
  } finally {
    await conn.close()
  }
}

/** Runs the admin CLI; resolves {code, stdout, stderr}. */
const cli = (args, env = {}) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'scripts/admin.mjs'), ...args], {
      env: { ...process.env, ADMIN_SECRET: SECRET, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })

test('disabled without ADMIN_SECRET: every admin route answers 404 and touches nothing', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-off')
  for (const [method, p] of [
    ['GET', `/admin/stores/${storeId}`],
    ['GET', `/admin/stores/${storeId}/events`],
    ['POST', `/admin/stores/${storeId}/events`],
    ['POST', `/admin/stores/${storeId}/reset`],
    ['GET', '/admin/anything'],
  ]) {
    const res = await admin(disabled, p, { method, body: method === 'POST' ? '{}' : undefined })
    assert.equal(res.status, 404, `${method} ${p}`)
    await res.text()
  }
  assert.equal(serverLog(disabled).filter((l) => l.store === storeId).length, 0, 'no object was touched')
})

test('the admin secret, and only it: wrong or missing → 401 logged without the value; sync tokens and the admin secret do not cross', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-auth')
  for (const secret of [null, 'wrong-secret-of-a-good-length', `${SECRET}x`, tokenFor()]) {
    const { status, body } = await json(await admin(server, `/admin/stores/${storeId}`, { secret }))
    assert.equal(status, 401, `secret ${secret}`)
    assert.match(body.error, /Admin authorization/)
  }
  const basic = await admin(server, `/admin/stores/${storeId}`, { secret: null, headers: { authorization: `Basic ${SECRET}` } })
  assert.equal(basic.status, 401)
  await basic.text()
  const refused = await waitForLog(server, (l) => l.event === 'admin.refused' && l.reason === 'wrong secret')
  assert.equal(refused.status, 401)
  assert.ok(!readFileSync(server.logFile, 'utf8').includes('wrong-secret-of-a-good-length'), 'the value sent is never logged')
  assert.ok(!readFileSync(server.logFile, 'utf8').includes(SECRET), 'nor the secret')
  // a sync request never accepts the admin secret
  const sync = await rawHttp(server, { storeId, body: httpPull(storeId), headers: { authorization: `Bearer ${SECRET}` } })
  assert.equal(sync.status, 401, sync.text)
  // the right secret
  const { status, body } = await json(await admin(server, `/admin/stores/${storeId}`))
  assert.equal(status, 200)
  assert.equal(body.head, 0)
})

test('info: head, events, bytes, backendId, first and last event time, open sockets and live pulls', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-info')
  await seed(storeId, 250)
  const live = await rawConnect(server, { storeId, payload: payload() })
  try {
    const id = nextId()
    live.send(pullRequest({ id, storeId, live: true }))
    await live.waitFor((m) => m?._tag === 'Exit' || (m?._tag === 'Chunk' && m.values[0].pageInfo._tag === 'NoMore'))
    const events = await pullAll(storeId)
    const { status, body } = await json(await admin(server, `/admin/stores/${encodeURIComponent(storeId)}`))
    assert.equal(status, 200)
    assert.equal(body.storeId, storeId)
    assert.equal(body.storage, STORAGE === 'd1' ? 'd1' : 'durable-object-sqlite')
    assert.equal(body.head, 250)
    assert.equal(body.events, 250)
    assert.ok(body.bytes > 250 * 50, `bytes ${body.bytes}`)
    assert.equal(body.backendId.length, 21)
    assert.equal(body.firstEventAt, events[0].metadata.value.createdAt)
    assert.equal(body.lastEventAt, events.at(-1).metadata.value.createdAt)
    assert.deepEqual(body.transports.ws, { sockets: 1, livePulls: 1, pendingPulls: 0 })
    assert.deepEqual(body.transports.http, { sockets: 0, livePulls: 0, pendingPulls: 0 })
  } finally {
    await live.close()
  }
})

test('bad input gets a 4xx with a reason and changes nothing', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-bad')
  await seed(storeId, 3)
  const before = await pullAll(storeId)
  const line = (seqNum, extra = {}) =>
    JSON.stringify({ seqNum, parentSeqNum: seqNum - 1, name: 'x', clientId: 'c', sessionId: 's', createdAt: '2026-12-02T10:00:00.000Z', ...extra })
  const cases = [
    ['GET', '/admin/stores/%zz', undefined, 400, /percent-encoded/],
    ['GET', `/admin/stores/${storeId}/events?since=-1`, undefined, 400, /since/],
    ['GET', `/admin/stores/${storeId}/events?since=abc`, undefined, 400, /since/],
    ['GET', `/admin/stores/${storeId}/nothing`, undefined, 404, /Unknown admin route/],
    ['DELETE', `/admin/stores/${storeId}`, undefined, 405, /expects GET/],
    ['GET', `/admin/stores/${storeId}/reset`, undefined, 405, /expects POST/],
    ['POST', `/admin/stores/${storeId}/events`, 'not json\n', 400, /line 1: not an event/],
    ['POST', `/admin/stores/${storeId}/events`, '', 400, /no events/],
    ['POST', `/admin/stores/${storeId}/events`, `${line(1)}\n`, 400, /line 1: the events must continue the store's log \(head 3\)/],
    ['POST', `/admin/stores/${storeId}/events`, `${line(4)}\n${line(6)}\n`, 400, /line 2:/],
    ['POST', `/admin/stores/${storeId}/events`, `${line(4, { createdAt: 'now' })}\n`, 400, /createdAt/],
    ['POST', `/admin/stores/${storeId}/events`, `${line(4, { extra: true })}\n`, 400, /unknown field/],
    ['POST', `/admin/stores/${storeId}/reset`, '{}', 400, /confirm/],
    ['POST', `/admin/stores/${storeId}/reset`, JSON.stringify({ confirm: 'another-store' }), 400, /confirm/],
  ]
  for (const [method, p, body, status, reason] of cases) {
    const res = await json(await admin(server, p, { method, body }))
    assert.equal(res.status, status, `${method} ${p} ${body ?? ''}`)
    assert.match(res.body.error, reason, `${method} ${p}`)
  }
  assert.deepEqual(await pullAll(storeId), before, 'nothing changed')
  const { body } = await json(await admin(server, `/admin/stores/${storeId}`))
  assert.equal(body.head, 3)
})

/** Resident memory (KiB) of the server's workerd processes. */
const workerdRss = (srv) => {
  let total = 0
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(rest[2]) !== srv.pid || !readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('workerd')) continue
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0)
    } catch {}
  }
  return total
}

test('export → import into another store gives an identical log: 50,000 events through the CLI, the server memory flat while it streams', { skip: SKIP || (process.platform !== 'linux' ? 'reads /proc' : undefined) }, async (t) => {
  const N = 50_000
  const source = freshStoreId('admin-export')
  const target = freshStoreId('admin-import')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-admin-'))
  dirs.push(dir)
  const exported = path.join(dir, 'source.ndjson')
  const copy = path.join(dir, 'copy.ndjson')
  await seed(source, N, 1000) // ~55 MB of NDJSON
  let t0 = Date.now()
  const ex = await cli(['export', '--url', server.url, '--store', source, '--out', exported])
  const exportMs = Date.now() - t0
  assert.equal(ex.code, 0, ex.stderr)
  assert.match(ex.stderr, /events\/s/, 'a progress line with the rate')
  const size = statSync(exported).size
  const lines = readFileSync(exported, 'utf8').trimEnd().split('\n')
  assert.equal(lines.length, N)
  // memory: a second export, once the storage's own page cache holds the log (the local D1 runs
  // inside the same workerd process, and its SQLite cache grows with what is read the first time)
  const baseline = workerdRss(server)
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, workerdRss(server))), 25)
  const again0 = await cli(['export', '--url', server.url, '--store', source, '--out', path.join(dir, 'again.ndjson'), '--since', '0'])
  clearInterval(sampler)
  assert.equal(again0.code, 0, again0.stderr)
  t.diagnostic(`export: ${N} events, ${(size / 1e6).toFixed(1)} MB in ${exportMs} ms (${Math.round(N / (exportMs / 1000))} events/s); workerd RSS during a second export ${Math.round(baseline / 1024)} MB before, peak ${Math.round(peak / 1024)} MB`)
  assert.ok(peak - baseline < (size / 1024) * 0.4, `server memory grew by ${Math.round((peak - baseline) / 1024)} MB while streaming ${Math.round(size / 1e6)} MB: it must not hold the export`)

  t0 = Date.now()
  const im = await cli(['import', '--url', server.url, '--store', target, '--in', exported, '--page', '5000'])
  const importMs = Date.now() - t0
  assert.equal(im.code, 0, im.stderr)
  t.diagnostic(`import: ${N} events in ${importMs} ms (${Math.round(N / (importMs / 1000))} events/s)`)

  const again = await cli(['export', '--url', server.url, '--store', target, '--out', copy])
  assert.equal(again.code, 0, again.stderr)
  assert.ok(readFileSync(copy).equals(readFileSync(exported)), 'the copy exports byte for byte the same NDJSON (createdAt included)')
  const [a, b] = await Promise.all([json(await admin(server, `/admin/stores/${source}`)), json(await admin(server, `/admin/stores/${target}`))])
  assert.equal(b.body.head, N)
  assert.equal(b.body.events, N)
  assert.notEqual(a.body.backendId, b.body.backendId)
  assert.equal(a.body.firstEventAt, b.body.firstEventAt)
  assert.equal(a.body.lastEventAt, b.body.lastEventAt)

  // resumable export: a file cut in the middle of a line continues where it stopped
  const cut = path.join(dir, 'cut.ndjson')
  writeFileSync(cut, readFileSync(exported))
  truncateSync(cut, Math.floor(size / 3) + 17)
  const resumed = await cli(['export', '--url', server.url, '--store', source, '--out', cut])
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.match(resumed.stderr, /resuming after seqNum \d+/)
  assert.ok(readFileSync(cut).equals(readFileSync(exported)), 'the resumed export is identical')

  // an import run again skips what the store already has
  const rerun = await cli(['import', '--url', server.url, '--store', target, '--in', exported])
  assert.equal(rerun.code, 0, rerun.stderr)
  assert.match(rerun.stderr, /imported 0 events, skipped 50,000/)
})

test('a failed import leaves a valid store and says how far it got', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-partial')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-admin-'))
  dirs.push(dir)
  const file = path.join(dir, 'broken.ndjson')
  const line = (seqNum, parent = seqNum - 1) =>
    JSON.stringify({ seqNum, parentSeqNum: parent, name: 'x', args: { n: seqNum }, clientId: 'c', sessionId: 's', createdAt: '2026-12-02T10:00:00.000Z' })
  const body = [...Array.from({ length: 25 }, (_, i) => line(i + 1)), line(27, 26), line(28)].join('\n') + '\n'
  writeFileSync(file, body)
  const r = await cli(['import', '--url', server.url, '--store', storeId, '--in', file, '--page', '10'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /import stopped \(line 26 of .*\): 400: line 6: .*head 20/s)
  assert.match(r.stderr, /head 20, 20 events imported/)
  const events = await pullAll(storeId)
  assert.deepEqual(events.map((b) => b.eventEncoded.seqNum), Array.from({ length: 20 }, (_, i) => i + 1), 'the two whole pages before the bad one')
})

// A LiveStore app, with its default onBackendIdMismatch: 'reset'
const todos = State.SQLite.table({ name: 'todos', columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text({ default: '' }) } })
const events = { todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }) }
const materializers = State.SQLite.materializers(events, { 'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }) })
const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })
const allTodos = queryDb({ query: 'SELECT id, text FROM todos ORDER BY rowid', schema: Schema.Array(Schema.Struct({ id: Schema.String, text: Schema.String })) })

test('a reset seen by a connected LiveStore store: BackendIdMismatch, its local data cleared, a new store syncs from zero', { skip: SKIP }, async () => {
  const storeId = freshStoreId('admin-reset')
  const baseDirectory = mkdtempSync(path.join(os.tmpdir(), 'e2e-admin-store-'))
  dirs.push(baseDirectory)
  const open = (shutdownDeferred) =>
    createStorePromise({
      schema,
      storeId,
      disableDevtools: true,
      logLevel: LogLevel.None,
      shutdownDeferred,
      syncPayload: payload(),
      adapter: makeAdapter({ storage: { type: 'fs', baseDirectory }, clientId: 'client-A', sync: { backend: makeWsSync({ url: server.url }) } }),
    })
  const shutdown = Effect.runSync(makeShutdownDeferred)
  const shutdownExit = Effect.runPromiseExit(Deferred.await(shutdown))
  const store = await open(shutdown)
  let fresh
  try {
    store.commit(events.todoCreated({ id: 'old-1', text: 'before the reset' }), events.todoCreated({ id: 'old-2', text: 'before the reset' }))
    await waitFor('the two events on the server', async () => (await pullAll(storeId)).length === 2)
    const before = (await json(await admin(server, `/admin/stores/${storeId}`))).body

    const reset = await json(await admin(server, `/admin/stores/${storeId}/reset`, { method: 'POST', body: JSON.stringify({ confirm: storeId }) }))
    assert.equal(reset.status, 200)
    assert.notEqual(reset.body.backendId, before.backendId)
    assert.equal(reset.body.head, 0)
    assert.ok(reset.body.closedSockets >= 1)
    // the client reconnects, its pull meets the new backendId: it clears its data and shuts down
    const exit = await Promise.race([shutdownExit, sleep(30_000).then(() => 'timeout')])
    assert.notEqual(exit, 'timeout', 'the store shuts down within 30 s')
    assert.match(JSON.stringify(exit), /backend-id-mismatch/, `shut down for the backend's new identity: ${JSON.stringify(exit).slice(0, 400)}`)
    assert.equal((await json(await admin(server, `/admin/stores/${storeId}`))).body.events, 0, 'the log is empty')
    await waitForLog(server, (l) => l.event === 'admin' && l.action === 'reset' && l.store === storeId)

    // another client writes into the new incarnation; the app's store, opened again on the same
    // local files, starts from zero and syncs exactly that
    const writer = await rawConnect(server, { storeId, payload: payload() })
    const todo = (seqNum, id) => ({ name: 'v1.TodoCreated', args: { id, text: 'after the reset' }, seqNum, parentSeqNum: seqNum - 1, clientId: 'client-W', sessionId: 's' })
    try {
      assert.deepEqual(await rawPush(writer, { storeId, batch: [todo(1, 'new-1')] }), { _tag: 'Success', value: {} })
      fresh = await open()
      await waitFor('the new store syncs the new incarnation', async () => fresh.query(allTodos).length >= 1)
      // the sentinel: one more event; once the store has it, anything the server sent it before
      // (old events, a duplicate of new-1) has arrived and been materialized too
      assert.deepEqual(await rawPush(writer, { storeId, batch: [todo(2, 'sentinel')] }), { _tag: 'Success', value: {} })
      await waitFor('the new store syncs the sentinel', async () => fresh.query(allTodos).some((t) => t.id === 'sentinel'), 30_000, { observe: () => fresh.query(allTodos) })
    } finally {
      await writer.close()
    }
    assert.deepEqual(
      fresh.query(allTodos),
      [
        { id: 'new-1', text: 'after the reset' },
        { id: 'sentinel', text: 'after the reset' },
      ],
      'local data was cleared: only the new events',
    )
  } finally {
    await store.shutdownPromise().catch(() => {})
    await fresh?.shutdownPromise().catch(() => {})
  }
})
