// An app that keeps its event logs in D1 (`storage`) and serves WebSocket clients only
// (`enabledTransports`): HTTP and DO-RPC clients are refused. Its Durable Object binding is not
// called SYNC_BACKEND_DO.
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncStore extends makeDurableObject({
  storage: { _tag: 'd1', binding: 'DB' },
  enabledTransports: new Set(['ws']),
}) {}

export default makeWorker({ syncBackendBinding: 'SYNC_STORE' })
