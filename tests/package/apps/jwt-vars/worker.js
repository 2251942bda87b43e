// The API together with livestore-sync-rs's own JWT check (its vars in wrangler.toml): a sync
// request needs a payload that validatePayload accepts and a valid token in it; a read-only token's
// push is refused by the server's own rule before onPush runs.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  onPush: (message, { storeId }) => {
    console.log(`onPush store=${storeId} events=${message.batch.length}`)
  },
}) {}

export default makeWorker({
  validatePayload: (payload) => {
    if (payload?.tenant !== 'acme') throw new Error(`unknown tenant ${payload?.tenant}`)
  },
})
