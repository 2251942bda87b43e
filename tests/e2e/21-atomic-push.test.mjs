// All or nothing, on workerd's real Durable Object SQLite: a 20-event push whose write fails part
// way — a real SQLite error (a duplicate primary key) raised by the second INSERT statement, after
// the first statement's 14 rows were written inside the same transaction — stores none of its
// events and leaves the head where it was; once the fault is gone, the same 20 events are accepted
// at parent 0 (the store is not wedged, unlike the reference's: transcript 11).
//
// The failing statement comes from the test-only switch FAULT_INJECTION=fail-inside-transaction,
// which acts only on stores whose id starts with "fault-injection-" (src/glue/sql_log.rs).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'

import { TARGET, encodedFailure, evRange, rawCollectPull, rawConnect, rawPush, startServer, waitForLog } from './harness.mjs'

test('a push whose transaction fails after some rows were written stores none of them', { skip: TARGET === 'ref' ? 'tests our storage layer' : undefined }, async () => {
  const persistTo = mkdtempSync(path.join(os.tmpdir(), 'e2e-atomic-'))
  let server = await startServer({ persistTo, env: { FAULT_INJECTION: 'fail-inside-transaction' } })
  const faulty = `fault-injection-${Date.now().toString(36)}`
  const healthy = `healthy-${Date.now().toString(36)}`
  const conn = await rawConnect(server, { storeId: faulty })
  const other = await rawConnect(server, { storeId: healthy })
  try {
    const exit = await rawPush(conn, { storeId: faulty, batch: evRange(1, 20) })
    const error = encodedFailure(exit)
    assert.equal(error?._tag, 'UnknownError', `the push fails: ${JSON.stringify(exit)}`)
    assert.equal(error.cause.name, 'StorageError')
    // the client gets an incident id; the log has the real SQLite error, from inside the transaction
    const incident = error.cause.message.match(/incident ([0-9a-f]{12})/)?.[1]
    assert.ok(incident, error.cause.message)
    const logged = await waitForLog(server, (l) => l.event === 'storage.error' && l.incident === incident, 5_000, 'the incident')
    assert.match(logged.error, /UNIQUE constraint failed/, 'a real SQLite error, from inside the transaction')

    const { responses } = await rawCollectPull(conn, { storeId: faulty })
    assert.deepEqual(
      responses.map((r) => r.batch),
      [[]],
      'none of the 20 events is stored (14 of them were written before the failure, and rolled back)',
    )
    // the head did not move: a push on parent 0 is still the right one (it fails again, for the
    // same injected reason, not with ServerAheadError)
    const again = encodedFailure(await rawPush(conn, { storeId: faulty, batch: evRange(1, 2) }))
    assert.equal(again?._tag, 'UnknownError', 'parent 0 is still the head')

    // the switch is store-scoped: other stores on the same server are untouched by it
    assert.deepEqual(await rawPush(other, { storeId: healthy, batch: evRange(1, 20) }), { _tag: 'Success', value: {} })
    const { responses: stored } = await rawCollectPull(other, { storeId: healthy })
    assert.equal(stored.flatMap((r) => r.batch).length, 20)
    await conn.close()
    await other.close()

    // the same storage without the fault: the failed store takes the same 20 events at parent 0
    await server.stop()
    server = await startServer({ persistTo })
    const after = await rawConnect(server, { storeId: faulty })
    try {
      assert.deepEqual(await rawPush(after, { storeId: faulty, batch: evRange(1, 20) }), { _tag: 'Success', value: {} }, 'not wedged')
      const { responses: now } = await rawCollectPull(after, { storeId: faulty })
      assert.deepEqual(
        now.flatMap((r) => r.batch.map((b) => b.eventEncoded.seqNum)),
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
    } finally {
      await after.close()
    }
  } finally {
    await conn.close()
    await other.close()
    await server.stop()
    rmSync(persistTo, { recursive: true, force: true })
  }
})
