// The published @livestore/sync-cf@0.4.0 server with its D1 storage option: the event log in the
// D1 database bound as DB, context_7 in the object's own SQLite (PROTOCOL.md §8 "D1 option").
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

export class SyncBackendDO extends makeDurableObject({ storage: { _tag: 'd1', binding: 'DB' } }) {}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
