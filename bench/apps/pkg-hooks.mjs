// The benchmark's `pkg-hooks` server: bench/apps/pkg.mjs with the hooks of bench/apps/hooks.mjs
// (async onPush/onPull that log, an async validatePayload), the very ones the reference runs in
// `ref-hooks` (bench/reference/worker-hooks.ts).
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

import { onPull, onPush, validatePayload } from './hooks.mjs'
import { alarmRan, meter, usageRequest } from './usage/meter.mjs'

const Base = makeDurableObject({ onPush, onPull })

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

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', validatePayload, enableCORS: true })
