// An app whose onPush takes its time for some batches (a remote permission check, say): a batch
// with an event named v1.Slow… waits 1 s in the hook before it may be stored. The hook logs when
// it starts and ends waiting.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  onPush: async (message, { storeId }) => {
    const slow = message.batch.find((e) => e.name.startsWith('v1.Slow'))
    if (slow === undefined) return
    console.log(`onPush slow start store=${storeId} event=${slow.name}`)
    await new Promise((r) => setTimeout(r, 1000))
    console.log(`onPush slow end store=${storeId} event=${slow.name}`)
  },
}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO' })
