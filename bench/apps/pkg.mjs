// The benchmark's `pkg` server: an app Worker on the packed package (installed into the app's own
// folder by bench/lib/pkg.mjs), with no hooks: `makeDurableObject({})` and `makeWorker` as an app
// writes them. Its Durable Object is wrapped like ours' (bench/usage/ours.mjs) so that both carry
// the same metering wrapper (bench/usage/meter.mjs, copied beside this file as usage/).
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

import { metered } from './usage/meter.mjs'

export class SyncBackendDO extends metered(makeDurableObject({})) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
