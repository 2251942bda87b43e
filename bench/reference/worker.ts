// The reference server as the benchmark runs it: tests/reference/worker.ts (the published,
// unmodified @livestore/sync-cf@0.4.0) plus one log line per Durable Object instance, written in
// its constructor (bench/usage/meter.mjs meteredReference), so that the benchmark can prove an eviction (a new instance) the same way it
// does for ours (`store.load` with a new `instance`). Nothing else differs; the constructor runs
// once per instance, never per message. The constructor also lets bench/usage/meter.mjs count the
// SQLite rows the object reads and writes (prototype patches, once per isolate), and `fetch`
// answers the benchmark's usage probe (a request for its own storeId) before the reference sees it.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

import { meteredReference } from '../usage/meter.mjs'

export class SyncBackendDO extends meteredReference(makeDurableObject({})) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
