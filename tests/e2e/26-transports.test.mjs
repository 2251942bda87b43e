// TRANSPORTS: a deployment serves only the transports it lists (the reference's
// `enabledTransports`, there set in code, here a var). A client of a disabled transport gets a
// clear refusal; the enabled ones work as usual. Ours only: the reference has no such var.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import {
  DEFAULT_VARS,
  STORAGE,
  TARGET,
  freshStoreId,
  httpPing,
  oursOnly,
  rawConnect,
  rawHttp,
  startServer,
} from './harness.mjs'
import { doRpcPing, startDoRpc } from '../support/do-rpc-client.mjs'

const SKIP = oursOnly('has no TRANSPORTS var (enabledTransports is an option in code)')

let httpOnly
let noDoRpc
before(async () => {
  if (SKIP) return
  ;[httpOnly, noDoRpc] = await Promise.all([
    startServer({ env: { TRANSPORTS: 'http' } }),
    startDoRpc({
      kind: TARGET,
      env: { ...DEFAULT_VARS[TARGET], TRANSPORTS: 'ws,http', ...(STORAGE === 'd1' ? { STORAGE: 'd1' } : {}) },
      d1: STORAGE === 'd1',
      tag: 'e2e-transports',
    }),
  ])
})
after(async () => {
  await Promise.all([httpOnly?.stop(), noDoRpc?.stop()])
})

test('TRANSPORTS=http: a WebSocket client gets 403 with the reason, HTTP clients are served', { skip: SKIP }, async () => {
  const storeId = freshStoreId('transports')
  const refused = await rawConnect(httpOnly, { storeId }).then(
    (conn) => {
      conn.ws.close()
      return undefined
    },
    (e) => e,
  )
  assert.ok(refused, 'the upgrade is refused')
  assert.equal(refused.status, 403)
  assert.equal(refused.body, 'The ws transport is disabled on this server (TRANSPORTS=http)')
  const ping = await rawHttp(httpOnly, { storeId, body: httpPing(storeId) })
  assert.equal(ping.status, 200)
  assert.equal(ping.json[0].exit._tag, 'Success')
})

test('TRANSPORTS=ws,http: a DO-RPC call fails with the reason, WebSocket clients are served', { skip: SKIP }, async () => {
  const storeId = freshStoreId('transports-dorpc')
  const answer = await noDoRpc.rawRpc(storeId, { messages: [doRpcPing({ storeId })] })
  assert.equal(answer.kind, 'throw', JSON.stringify(answer))
  assert.match(answer.message, /The do-rpc transport is disabled on this server \(TRANSPORTS=ws,http\)/)
  const conn = await rawConnect(noDoRpc.server, { storeId })
  conn.ws.close()
})
