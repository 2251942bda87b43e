// The Worker's entry module (wrangler.toml `main`): worker-build's output, plus the sync Durable
// Object as a class that extends `DurableObject`, so that it can serve JS RPC, which the DO-RPC
// transport of @livestore/sync-cf@0.4.0 uses (js/object.mjs, docs/do-rpc.md).
import RustWorker from '../build/index.js'
import { rustObjectClass } from './object.mjs'

export default RustWorker

export class SyncBackendDO extends rustObjectClass((env) => env) {}
