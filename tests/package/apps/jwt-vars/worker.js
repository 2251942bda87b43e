// The API together with livestore-sync-rs's own JWT check (its vars in wrangler.toml): a sync
// request needs a payload that validatePayload accepts and a valid token in it.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({}) {}

export default makeWorker({
  validatePayload: (payload) => {
    if (payload?.tenant !== 'acme') throw new Error(`unknown tenant ${payload?.tenant}`)
  },
})
