// Mistakes an app can make: each line after `@ts-expect-error` must be an error with the
// reference's types and with ours (tests/types/run.mjs also checks that each side reports an error
// on exactly these lines, and nowhere else).
import { Schema } from 'effect'
import { type CfTypes, handleSyncRequest, makeDurableObject, makeWorker, matchSyncRequest } from '@livestore/sync-cf/cf-worker'

type Env = { SYNC_BACKEND_DO: CfTypes.DurableObjectNamespace; DB: CfTypes.D1Database }

export class UnknownOption extends makeDurableObject({
  // @ts-expect-error an option that does not exist
  onPushh: async () => {},
}) {}

export class WrongMessageType extends makeDurableObject({
  // @ts-expect-error a hook whose message parameter has the wrong type
  onPush: async (message: string) => console.log(message),
}) {}

export class WrongContextType extends makeDurableObject({
  // @ts-expect-error a hook whose context parameter has the wrong type
  onPull: (message, context: { storeId: number }) => console.log(message, context),
}) {}

export class NoSuchField extends makeDurableObject({
  onPush: (message) => {
    // @ts-expect-error a field the push message does not have
    console.log(message.events)
  },
}) {}

export class WrongResponseField extends makeDurableObject({
  onPullRes: (message) => {
    // @ts-expect-error the response may be an error, which has no batch
    console.log(message.batch)
  },
}) {}

export class D1WithoutBinding extends makeDurableObject({
  // @ts-expect-error d1 storage needs its binding
  storage: { _tag: 'd1' },
}) {}

export class UnknownStorage extends makeDurableObject({
  // @ts-expect-error no such storage
  storage: { _tag: 'kv' },
}) {}

export class UnknownTransport extends makeDurableObject({
  // @ts-expect-error no such transport
  enabledTransports: new Set(['ws', 'sse']),
}) {}

export class TransportsAsArray extends makeDurableObject({
  // @ts-expect-error a Set, not an array
  enabledTransports: ['ws'],
}) {}

export class ForwardOneString extends makeDurableObject({
  // @ts-expect-error header names are a list
  forwardHeaders: 'cookie',
}) {}

export class ForwardFunctionAsync extends makeDurableObject({
  // @ts-expect-error the function must return the headers, not a Promise of them
  forwardHeaders: async (request) => ({ cookie: request.headers.get('cookie') ?? '' }),
}) {}

export class NumericHeader extends makeDurableObject({
  // @ts-expect-error header values are strings
  http: { responseHeaders: { 'X-Count': 1 } },
}) {}

export const unknownWorkerOption = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  // @ts-expect-error an option that does not exist (the name is enableCORS)
  enableCors: true,
})

export const corsNotBoolean = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  // @ts-expect-error enableCORS is a boolean
  enableCORS: 'yes',
})

export const wrongValidateContext = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  // @ts-expect-error the context's storeId is a string
  validatePayload: (_payload, context: { storeId: number }) => console.log(context),
})

export const validateReturnsNumber = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  // @ts-expect-error validatePayload returns nothing (or a Promise of nothing)
  validatePayload: () => 42,
})

export const notADurableObjectBinding = makeWorker<Env>({
  // @ts-expect-error DB is not a Durable Object binding of Env
  syncBackendBinding: 'DB',
})

export const noSuchBinding = makeWorker<Env>({
  // @ts-expect-error no such binding in Env
  syncBackendBinding: 'SYNC_BACKEND',
})

export const payloadAgainstSchema = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  syncPayloadSchema: Schema.Struct({ authToken: Schema.String }),
  validatePayload: (payload) => {
    // @ts-expect-error the schema has no userId
    console.log(payload.userId)
  },
})

export const schemaNotASchema = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  // @ts-expect-error syncPayloadSchema is an Effect Schema
  syncPayloadSchema: { authToken: 'string' },
})

export const rawPayloadIsJson = makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  validatePayload: (payload) => {
    // @ts-expect-error without a schema the payload is any JSON value, not an object
    console.log(payload.authToken)
  },
})

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext) {
    // @ts-expect-error matchSyncRequest takes the Request
    matchSyncRequest(request.url)
    const searchParams = matchSyncRequest(request)
    // @ts-expect-error it may be undefined
    console.log(searchParams.storeId)
    if (searchParams === undefined) return new Response('Not found', { status: 404 })
    // @ts-expect-error transport is 'http' or 'ws'
    if (searchParams.transport === 'do-rpc') return new Response('never')
    // @ts-expect-error the request is required
    await handleSyncRequest({ searchParams, env, ctx, syncBackendBinding: 'SYNC_BACKEND_DO' })
    // @ts-expect-error ctx is required
    await handleSyncRequest({ request, searchParams, env, syncBackendBinding: 'SYNC_BACKEND_DO' })
    return handleSyncRequest({
      request,
      searchParams,
      env,
      ctx,
      syncBackendBinding: 'SYNC_BACKEND_DO',
      // @ts-expect-error headers are a HeadersInit
      headers: 42,
    })
  },
}
