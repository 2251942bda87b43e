// The benchmark's `ref-hooks` server: bench/reference/worker.ts (the published, unmodified
// @livestore/sync-cf@0.4.0 with the benchmark's one-line-per-instance wrapper) with the hooks of
// bench/apps/hooks.mjs, the very ones `pkg-hooks` runs on our package.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

// @ts-ignore a plain ES module shared with the pkg-hooks app
import { onPull, onPush, validatePayload } from '../apps/hooks.mjs'
import { meter, usageRequest } from '../usage/meter.mjs'

const Base = makeDurableObject({ onPush, onPull })

export class SyncBackendDO extends Base {
  constructor(ctx: any, env: any) {
    meter(ctx, env)
    super(ctx, env)
    console.log(JSON.stringify({ event: 'bench.ref.instance', instance: crypto.randomUUID().slice(0, 8), name: ctx.id.name ?? null }))
    // the reference's `fetch` is an instance field (set by its constructor), not a method
    const inner = (this as any).fetch
    ;(this as any).fetch = (request: Request) => usageRequest(request) ?? inner(request)
  }
}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', validatePayload, enableCORS: true })
