// Ping / connect: the published client becomes connected; raw Ping frames get exactly {"_tag":"Pong"}.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Effect, freshStoreId, makeClient, rawConnect, sleep, useServer, waitConnected } from './harness.mjs'

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
  // A short ping interval; `ping` waits for the next Pong and sets isConnected=false if none comes
  // within requestTimeout (it does not fail), so isConnected is what tells.
  const client = await makeClient({
    url: server.url,
    storeId: freshStoreId('pinger'),
    options: { ping: { requestInterval: 300, requestTimeout: 3000 } },
  })
  try {
    await waitConnected(client, 8000)
    await sleep(1000)
    for (let i = 0; i < 3; i++) {
      await client.run(client.backend.ping)
      assert.equal(await client.isConnected(), true, `still connected after ping ${i + 1}`)
    }
  } finally {
    await client.close()
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
  const conn = await rawConnect(server, { storeId: freshStoreId('ping-ws') })
  try {
    conn.sendRaw('{ "_tag": "Ping" }')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 1'), { _tag: 'Pong' })
    conn.sendRaw('{"_tag":"Ping"}')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 2'), { _tag: 'Pong' })
    conn.sendRaw('{ "_tag": "Ping" }')
    assert.deepEqual(await conn.next(() => true, 5000, 'Pong 3'), { _tag: 'Pong' })
    await sleep(200)
    assert.equal(conn.messages.length, 3, 'exactly one Pong per Ping')
    for (const m of conn.messages) assert.equal(m.text, '{"_tag":"Pong"}')
  } finally {
    await conn.close()
  }
})
