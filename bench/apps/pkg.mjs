// The benchmark's `pkg` server: an app Worker on the packed package (installed into the app's own
// folder by bench/lib/pkg.mjs), with no hooks: `makeDurableObject({})` and `makeWorker` as an app
// writes them. Its Durable Object is wrapped like ours' (bench/usage/ours.mjs) so that both carry
// the same metering wrapper (bench/usage/meter.mjs, copied beside this file as usage/).
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

import { alarmRan, meter, usageRequest } from './usage/meter.mjs'

const Base = makeDurableObject({})

export class SyncBackendDO extends Base {
  constructor(ctx, env) {
    meter(ctx, env)
    super(ctx, env)
  }

  fetch(request) {
    return usageRequest(request) ?? super.fetch(request)
  }

  alarm(...args) {
    alarmRan()
    return super.alarm(...args)
  }
}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
