// Effect-returning hooks and syncPayloadSchema (the app has `effect` installed, as LiveStore apps do).
import { Effect, Schema } from 'effect'
import { makeDurableObject, makeWorker } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  onPush: (message) =>
    message.batch.some((e) => e.name === 'v1.Forbidden')
      ? Effect.fail(new Error('refused by an Effect'))
      : Effect.void,
  onPull: () => Effect.void,
}) {}

export default makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  syncPayloadSchema: Schema.Struct({ authToken: Schema.String }),
  validatePayload: (payload) => {
    if (payload.authToken !== 'letmein') throw new Error('wrong token')
  },
})
