// The benchmark's `pkg-hooks` server: bench/apps/pkg.mjs with the hooks of bench/apps/hooks.mjs
// (async onPush/onPull that log, an async validatePayload), the very ones the reference runs in
// `ref-hooks` (bench/reference/worker-hooks.ts).
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

import { onPull, onPush, validatePayload } from './hooks.mjs'
import { metered } from './usage/meter.mjs'

export class SyncBackendDO extends metered(makeDurableObject({ onPush, onPull })) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', validatePayload, enableCORS: true })
