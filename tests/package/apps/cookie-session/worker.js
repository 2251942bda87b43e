// An app Worker that keeps its users' sessions in a cookie (the cookie example of sync-cf's
// handleSyncRequest): validatePayload reads the session cookie from the request headers (no or
// unknown session: 400), the Durable Object forwards the cookie to its hooks (forwardHeaders), and
// onPush reads the user from it, logs what it was given and refuses one event name: the push is
// refused whole, nothing of it is stored.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

const SESSIONS = { 'session-ada-0123': 'ada', 'session-bob-4567': 'bob' }
const userOf = (cookie) => SESSIONS[cookie?.match(/(?:^|;\s*)session=([^;]+)/)?.[1]]

export class SyncBackendDO extends makeDurableObject({
  forwardHeaders: ['cookie'],
  onPush: (message, { storeId, payload, headers }) => {
    const user = userOf(headers?.get('cookie')) ?? 'nobody'
    console.log(`onPush store=${storeId} user=${user} events=${message.batch.length} payload=${JSON.stringify(payload)}`)
    if (message.batch.some((e) => e.name === 'v1.Forbidden')) {
      throw new Error(`${user} may not push v1.Forbidden`)
    }
  },
}) {}

export default makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  validatePayload: (_payload, { headers }) => {
    if (userOf(headers.get('cookie')) === undefined) throw new Error('No valid session cookie')
  },
})
