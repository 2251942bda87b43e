// The benchmark's `ref-hooks` server: bench/reference/worker.ts (the published, unmodified
// @livestore/sync-cf@0.4.0 with the benchmark's one-line-per-instance wrapper) with the hooks of
// bench/apps/hooks.mjs, the very ones `pkg-hooks` runs on our package.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

// @ts-ignore a plain ES module shared with the pkg-hooks app
import { onPull, onPush, validatePayload } from '../apps/hooks.mjs'
import { meteredReference } from '../usage/meter.mjs'

export class SyncBackendDO extends meteredReference(makeDurableObject({ onPush, onPull })) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', validatePayload, enableCORS: true })
