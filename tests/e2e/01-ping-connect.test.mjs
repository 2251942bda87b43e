// Ping / connect: the published client becomes connected; raw Ping frames get exactly {"_tag":"Pong"}.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { recordFrames } from '../support/push-liveness.mjs'
import { Effect, Fiber, Stream, freshStoreId, makeClient, rawCollectPull, rawConnect, useServer, waitConnected, waitFor } from './harness.mjs'

const server = useServer()

test('published client: connect resolves and isConnected becomes true', async () => {
  const client = await makeClient({ url: server.url, storeId: freshStoreId('connect') })
  try {
    // `connect` waits for the Pong to the ping the client sends right after construction.
    await client.run(client.backend.connect.pipe(Effect.timeout('8 seconds')))
    assert.equal(await client.isConnected(), true)
  } finally {
    await client.close()
  }
})

test('published client: periodic pings keep it connected', async () => {
  // The client's pinger (@livestore/utils RpcClient makePinger) sends a Ping every requestInterval;
  // a tick that finds no frame received since the previous one takes the socket for dead: it sets
  // isConnected=false and opens a new socket. So a lost or late periodic Pong shows as a change of
  // isConnected to false, or as a second socket. Every change of isConnected is recorded, and the
  // frames of the client's sockets too; the test waits for PONGS answered periodic pings, a window
  // of several intervals, longer than requestTimeout. (An interval of 1 s: a much shorter one
  // takes any stall of a loaded machine for a dead socket.) The client holds a live pull, as every
  // LiveStore client does: our server closes a socket that carries no request (4000 after 3 s in
  // this suite, see e2e 22), which is not what this test is about.
  const INTERVAL_MS = 1000
  const TIMEOUT_MS = 3000
  const PONGS = 6
  const recording = recordFrames() // installed as globalThis.WebSocket until the end: a reconnect would be recorded too
  const started = Date.now()
  const changes = [] // every value isConnected takes, with when
  let client
  let watcher
  let live
  try {
    client = await makeClient({
      url: server.url,
      storeId: freshStoreId('pinger'),
      options: { ping: { requestInterval: INTERVAL_MS, requestTimeout: TIMEOUT_MS } },
    })
    watcher = Effect.runFork(Stream.runForEach(client.backend.isConnected.changes, (v) => Effect.sync(() => changes.push({ ms: Date.now() - started, v }))))
    await waitConnected(client, 8000)
    live = client.livePull()
    const pongs = () => recording.sockets.flatMap((s) => s.frames).filter((f) => f.dir === 'in' && f.text === '{"_tag":"Pong"}')
    // falseAfterTrue ends the wait early: the assertions below then say what happened
    const falseAfterTrue = () => {
      const i = changes.findIndex((c) => c.v === true)
      return i >= 0 && changes.slice(i).some((c) => c.v === false)
    }
    await waitFor(`${PONGS} Pongs to the client's periodic pings`, () => pongs().length >= PONGS || falseAfterTrue(), PONGS * INTERVAL_MS + 10_000, {
      observe: () => ({ pongs: pongs().length, changes }),
    })
    // and a manual ping is answered (it waits for the next Pong; without one within requestTimeout
    // it would set isConnected=false)
    await client.run(client.backend.ping)
    // every socket the client opened (a reconnect opens another), with how it ended
    const sockets = recording.sockets.map((s) => ({ opened: s.frames.some((f) => f.dir === 'open'), closed: s.frames.filter((f) => f.dir === 'close' || f.dir === 'close-call').map((f) => `${f.dir} ${f.text} at ${f.t} ms`) }))
    const firstTrue = changes.findIndex((c) => c.v === true)
    assert.ok(firstTrue >= 0, `isConnected became true: ${JSON.stringify(changes)}`)
    assert.deepEqual(
      changes.slice(firstTrue).filter((c) => c.v === false),
      [],
      `isConnected never went false once connected (changes: ${JSON.stringify(changes)}; sockets: ${JSON.stringify(sockets)})`,
    )
    assert.equal(await client.isConnected(), true, 'connected after a manual ping')
    assert.ok(pongs().length >= PONGS + 1, `${pongs().length} Pongs received, expected ≥ ${PONGS + 1}`)
    assert.deepEqual(sockets, [{ opened: true, closed: [] }], 'one socket, never closed (no reconnect)')
    assert.equal(live.restarts(), 0, 'the live pull was never cut off')
  } finally {
    recording.restore()
    if (watcher) await Effect.runPromise(Fiber.interrupt(watcher))
    await live?.stop()
    await client?.close()
  }
})

test('raw: exact {"_tag":"Ping"} is answered with exactly {"_tag":"Pong"}', async () => {
  const conn = await rawConnect(server, { storeId: freshStoreId('ping') })
  try {
    conn.sendRaw('{"_tag":"Ping"}')
    await conn.next(() => true, 5000, 'Pong')
    assert.equal(conn.messages[0].text, '{"_tag":"Pong"}')
    assert.equal(conn.messages[0].isBinary, false)
    conn.sendRaw('{"_tag":"Ping"}')
    await conn.next(() => true, 5000, 'Pong 2')
    assert.equal(conn.messages[1].text, '{"_tag":"Pong"}')
  } finally {
    await conn.close()
  }
})

test('raw: whitespace variant { "_tag": "Ping" } also gets a Pong', async () => {
  const storeId = freshStoreId('ping-ws')
  const conn = await rawConnect(server, { storeId })
  try {
    conn.sendRaw('{ "_tag": "Ping" }')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 1'), { _tag: 'Pong' })
    conn.sendRaw('{"_tag":"Ping"}')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 2'), { _tag: 'Pong' })
    conn.sendRaw('{ "_tag": "Ping" }')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 3'), { _tag: 'Pong' })
    // the sentinel: a pull on the same socket, whose answer comes after anything sent before it
    // (a second Pong to one of the Pings)
    const { exit } = await rawCollectPull(conn, { storeId })
    assert.deepEqual(exit, { _tag: 'Success' })
    const beforeSentinel = conn.messages.slice(0, conn.messages.findIndex((m) => m.json?.requestId !== undefined))
    assert.equal(beforeSentinel.length, 3, 'exactly one Pong per Ping')
    for (const m of beforeSentinel) assert.equal(m.text, '{"_tag":"Pong"}')
  } finally {
    await conn.close()
  }
})
