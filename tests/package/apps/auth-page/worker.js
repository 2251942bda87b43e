// An app Worker in the shape of LiveStore's "Auth" documentation page: an HS256 JWT checked with
// `jose` in validatePayload, and onPush/onPull that log. Only the import line differs from the
// page (`livestore-sync-rs/cf-worker` instead of `@livestore/sync-cf/cf-worker`).
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'
import * as jose from 'jose'

const secret = new TextEncoder().encode('package-test-secret-0123456789abcdef')

export class WebSocketServer extends makeDurableObject({
  onPush: async (message, { storeId, payload }) => {
    console.log(`onPush store=${storeId} events=${message.batch.length} token=${typeof payload?.authToken}`)
  },
  onPull: async (message, { storeId }) => {
    console.log(`onPull store=${storeId} cursor=${message.cursor._tag}`)
  },
}) {}

export default makeWorker({
  validatePayload: async (payload) => {
    if (typeof payload?.authToken !== 'string') throw new Error('Missing auth token')
    await jose.jwtVerify(payload.authToken, secret)
  },
  enableCORS: true,
})
