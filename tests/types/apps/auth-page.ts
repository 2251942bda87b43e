// The shape of LiveStore's "Auth" documentation page: a token checked in validatePayload, and
// onPush/onPull that log. `syncBackendBinding` is given: the types of @livestore/sync-cf 0.4.0
// require it (ours may omit it, see differences.ts).
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

export class WebSocketServer extends makeDurableObject({
  onPush: async (message, { storeId, payload }) => {
    console.log(`onPush for store (${storeId})`, message.batch, payload)
  },
  onPull: async (message, { storeId, payload }) => {
    console.log(`onPull for store (${storeId})`, message.cursor, payload)
  },
}) {}

const validatePayload = async (payload: any, context: { storeId: string }) => {
  const { storeId } = context
  const { authToken } = payload ?? {}
  if (!authToken) throw new Error('No auth token provided')
  if (authToken !== 'insecure-token-change-me') throw new Error(`Invalid auth token for ${storeId}`)
}

export default makeWorker({
  syncBackendBinding: 'WEBSOCKET_SERVER',
  validatePayload,
  enableCORS: true,
})
