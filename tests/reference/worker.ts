// The published, unmodified @livestore/sync-cf@0.4.0 server, used by the e2e suite as the
// reference implementation (E2E_TARGET=ref) and to write stores that our server must read.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

export class SyncBackendDO extends makeDurableObject({}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
