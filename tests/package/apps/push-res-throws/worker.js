// An app whose onPushRes (called after a push was accepted) throws.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  onPushRes: () => {
    throw new Error('onPushRes failed')
  },
}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO' })
