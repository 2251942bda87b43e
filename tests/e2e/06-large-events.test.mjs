// Large events (~120 kB each) round-trip intact; no PullResponse exceeds 900,000 bytes of JSON.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ev, freshStoreId, makeClient, rawCollectPull, rawConnect, useServer } from './harness.mjs'

const server = useServer()

const MAX = 900_000

/** ~120 kB (UTF-8) of args, with multi-byte characters so byte and char counts differ. */
const bigArgs = (i) => {
  const unit = `event ${i} — ünïcödé ✓ 🚀 `
  const text = unit.repeat(Math.ceil(120_000 / Buffer.byteLength(unit)))
  return { id: `big-${i}`, text, list: Array.from({ length: 50 }, (_, k) => k * i) }
}

test('10 events of ~120 kB each: pushed, pulled intact, every response ≤ 900,000 bytes', async () => {
  const storeId = freshStoreId('large')
  const A = await makeClient({ url: server.url, storeId, clientId: 'client-A' })
  const B = await makeClient({ url: server.url, storeId, clientId: 'client-B' })
  const conn = await rawConnect(server, { storeId })
  try {
    const events = Array.from({ length: 10 }, (_, i) => ev(i + 1, i, { args: bigArgs(i + 1) }))
    for (const e of events) assert.ok(Buffer.byteLength(JSON.stringify(e)) > 115_000)
    await A.push(events) // the client splits by its own 900,000-byte limit

    const items = await B.collectPull()
    assert.deepEqual(
      items.flatMap((it) => it.batch.map((b) => b.eventEncoded)),
      events,
    )
    assert.ok(items.length >= 2, 'more than one response (1.2 MB cannot fit in one)')
    assert.deepEqual(items.at(-1).pageInfo, { _tag: 'NoMore' })

    const { responses, frames } = await rawCollectPull(conn, { storeId })
    assert.ok(responses.length >= 2)
    let total = 0
    responses.forEach((r, i) => {
      const bytes = Buffer.byteLength(JSON.stringify(r))
      assert.ok(bytes <= MAX, `response ${i}: ${bytes} bytes > ${MAX}`)
      assert.ok(r.batch.length >= 1)
      total += r.batch.length
      if (i < responses.length - 1) assert.deepEqual(r.pageInfo, { _tag: 'MoreKnown', remaining: 10 - total })
    })
    assert.equal(total, 10)
    for (const f of frames) assert.ok(Buffer.byteLength(f) <= MAX + 1_000, 'frame ≈ response size')
    assert.deepEqual(
      responses.flatMap((r) => r.batch.map((b) => b.eventEncoded)),
      events,
    )
  } finally {
    await conn.close()
    await A.close()
    await B.close()
  }
})
