// An app Worker whose onPush refuses one event name, reading the user from a forwarded cookie:
// the push is refused whole (nothing stored), and other pushes are unaffected.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  forwardHeaders: ['cookie'],
  onPush: (message, { headers }) => {
    const user = headers?.get('cookie')?.match(/user=([^;]+)/)?.[1] ?? 'nobody'
    if (message.batch.some((e) => e.name === 'v1.Forbidden')) {
      throw new Error(`${user} may not push v1.Forbidden`)
    }
  },
}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO' })
