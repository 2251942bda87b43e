// The notifying hooks (onPushRes, onPullRes), an onPull that refuses, and a forwardHeaders
// function, in an app whose Durable Object binding is not named SYNC_BACKEND_DO: sync requests
// and (ours) the admin API both reach its objects.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  forwardHeaders: (request) => ({ 'x-note': request.headers.get('x-note') ?? '' }),
  onPull: (_message, { payload, headers }) => {
    if (payload?.closed === true) throw new Error(`pulls are closed (note: ${headers?.get('x-note')})`)
  },
  onPushRes: () => {
    console.log('onPushRes')
  },
  onPullRes: (message) => {
    console.log(`onPullRes backend=${message.backendId} events=${message.batch.length}`)
  },
}) {}

export default makeWorker({ syncBackendBinding: 'STORES' })
