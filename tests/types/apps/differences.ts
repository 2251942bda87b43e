// Where ours is deliberately looser than the reference: each line after a `ref-only-error:` comment
// must be an error with the reference's types and must not be one with ours (tests/types/run.mjs);
// the rest of the file must pass with both.
import { Effect } from 'effect'
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

export class FailingEffect extends makeDurableObject({
  // ref-only-error: the reference's hooks take an Effect that cannot fail; both runtimes refuse the push with its error
  onPush: (message) => (message.batch.length > 100 ? Effect.fail(new Error('too many events')) : Effect.void),
}) {}

// the shape of LiveStore's Auth page without `syncBackendBinding`: ours uses the Worker's one
// Durable Object binding (the reference's types require the option since 0.4.0)
export default makeWorker(
  // ref-only-error: syncBackendBinding is required by the reference's types
  {
    validatePayload: (payload: any) => {
      if (payload?.authToken !== 'insecure-token-change-me') throw new Error('Invalid auth token')
    },
    enableCORS: true,
  },
)
