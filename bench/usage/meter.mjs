// What the benchmark's servers cost in Cloudflare's billed storage units, measured from the
// runtime itself: SQL cursors' `rowsRead` / `rowsWritten` (Durable Object SQLite, the units
// Cloudflare bills) and D1 results' `meta.rows_read` / `meta.rows_written`. Benchmark only: each
// server's Durable Object is wrapped (bench/usage/*.mjs, bench/reference/worker.ts) so that its
// constructor calls `meter(ctx, env)`, which patches the prototypes once per isolate; nothing of
// the server's own code changes. Counters are per isolate (every object of the class shares them);
// `usageRequest` answers the bench's probe (a sync request for the store `USAGE_STORE`) with the
// counters since the last probe.

/** The storeId whose requests the wrapped objects answer with the counters (and reset them). */
export const USAGE_STORE = 'bench-usage-probe'

const counters = () => ({ sqlExecs: 0, sqlRowsRead: 0, sqlRowsWritten: 0, d1Queries: 0, d1RowsRead: 0, d1RowsWritten: 0, alarmsSet: 0, alarmsRun: 0, instances: 0 })
let totals = counters()
/** Cursors since the last probe: their counts grow while they are read, so they are summed late. */
let cursors = []
/** Counting only between a probe that arms and one that disarms (the cost phases), so that the
 * other workloads keep no cursors alive and count nothing. */
let armed = false
/** The probe's own object's storage: what it does is not the workload's. */
const probeStorage = new WeakSet()

const patchSql = (sql) => {
  const proto = Object.getPrototypeOf(sql)
  if (!proto || proto.__benchMetered) return
  const exec = proto.exec
  proto.exec = function (...args) {
    const cursor = exec.apply(this, args)
    if (!armed || probeStorage.has(this)) return cursor
    totals.sqlExecs++
    cursors.push(cursor)
    return cursor
  }
  Object.defineProperty(proto, '__benchMetered', { value: true })
}

const recordD1 = (meta) => {
  if (!armed) return
  totals.d1Queries++
  totals.d1RowsRead += meta?.rows_read ?? 0
  totals.d1RowsWritten += meta?.rows_written ?? 0
}

const patchD1 = (db) => {
  const dbProto = Object.getPrototypeOf(db)
  if (!dbProto || dbProto.__benchMetered) return
  const batch = dbProto.batch
  dbProto.batch = async function (statements) {
    const results = await batch.call(this, statements)
    for (const r of results) recordD1(r?.meta)
    return results
  }
  Object.defineProperty(dbProto, '__benchMetered', { value: true })
  const stmtProto = Object.getPrototypeOf(db.prepare('SELECT 1'))
  const { all, run, first } = stmtProto
  stmtProto.all = async function (...a) {
    const r = await all.apply(this, a)
    recordD1(r?.meta)
    return r
  }
  stmtProto.run = async function (...a) {
    const r = await run.apply(this, a)
    recordD1(r?.meta)
    return r
  }
  stmtProto.first = async function (column) {
    const r = await all.call(this)
    recordD1(r?.meta)
    const row = r?.results?.[0] ?? null
    return column === undefined || row === null ? row : row[column]
  }
  // `raw()` returns no meta: the same query through `all()`, its rows as arrays (the servers
  // select distinct column names, so no column is lost)
  stmtProto.raw = async function (options) {
    const r = await all.call(this)
    recordD1(r?.meta)
    const results = r?.results ?? []
    const rows = results.map((row) => Object.values(row))
    if (options?.columnNames) rows.unshift(Object.keys(results[0] ?? {}))
    return rows
  }
}

// Each setAlarm() is billed as one row written (Cloudflare's Durable Objects pricing page).
const patchAlarms = (storage) => {
  const proto = Object.getPrototypeOf(storage)
  if (!proto || proto.__benchMetered) return
  const setAlarm = proto.setAlarm
  proto.setAlarm = function (...a) {
    if (armed && !probeStorage.has(this)) totals.alarmsSet++
    return setAlarm.apply(this, a)
  }
  Object.defineProperty(proto, '__benchMetered', { value: true })
}

/** Called by a wrapped object's `alarm()`: an alarm invocation is a billed request. */
export const alarmRan = () => {
  if (armed) totals.alarmsRun++
}

/**
 * Called by a wrapped object's constructor, before the server's own: patches what this isolate's
 * objects use. The probe's own object (its storeId is `USAGE_STORE`) is not counted: it is not
 * the workload.
 */
export const meter = (ctx, env) => {
  if (ctx?.id?.name === USAGE_STORE) {
    if (ctx.storage) probeStorage.add(ctx.storage)
    if (ctx.storage?.sql) probeStorage.add(ctx.storage.sql)
  } else if (armed) {
    totals.instances++
  }
  if (ctx?.storage) patchAlarms(ctx.storage)
  if (ctx?.storage?.sql) patchSql(ctx.storage.sql)
  for (const value of Object.values(env ?? {})) {
    if (value && typeof value.prepare === 'function' && typeof value.batch === 'function') patchD1(value)
  }
}

/**
 * The counters since the last probe, as a Response, when `request` is the bench's probe; `arm=1`
 * (start of a phase) or `arm=0` (its end) says whether counting goes on after it.
 */
export const usageRequest = (request) => {
  const params = new URL(request.url).searchParams
  if (params.get('storeId') !== USAGE_STORE) return undefined
  armed = params.get('arm') === '1'
  for (const c of cursors) {
    totals.sqlRowsRead += c.rowsRead ?? 0
    totals.sqlRowsWritten += c.rowsWritten ?? 0
  }
  const body = JSON.stringify(totals)
  totals = counters()
  cursors = []
  return new Response(body, { headers: { 'content-type': 'application/json' } })
}

/**
 * `Base` (a Durable Object class whose `fetch` and `alarm` are methods: ours, or an app's made by
 * the package's makeDurableObject) wrapped so that this file counts what its objects use.
 */
export const metered = (Base) =>
  class MeteredObject extends Base {
    constructor(ctx, env) {
      meter(ctx, env)
      super(ctx, env)
    }

    fetch(request) {
      return usageRequest(request) ?? super.fetch(request)
    }

    alarm(...args) {
      alarmRan()
      return super.alarm(...args)
    }
  }

/**
 * The reference's class made by its makeDurableObject, wrapped likewise; it also writes one log line
 * per instance, so that the benchmark sees its evictions. Its `fetch` is an instance field set by
 * its constructor, not a method.
 */
export const meteredReference = (Base) =>
  class MeteredReference extends Base {
    constructor(ctx, env) {
      meter(ctx, env)
      super(ctx, env)
      console.log(JSON.stringify({ event: 'bench.ref.instance', instance: crypto.randomUUID().slice(0, 8), name: ctx.id.name ?? null }))
      const inner = this.fetch
      this.fetch = (request) => usageRequest(request) ?? inner(request)
    }
  }
