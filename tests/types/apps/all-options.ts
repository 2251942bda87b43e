// Every option of MakeDurableObjectClassOptions and MakeWorkerOptions, with hooks returning
// nothing, a Promise and an Effect, forwardHeaders as names and as a function, D1 storage, a Set
// of transports, HTTP response headers, a typed Env and a syncPayloadSchema.
import { Effect, Schema } from 'effect'
import {
  type CallbackContext,
  type CfTypes,
  type ForwardedHeaders,
  type MakeDurableObjectClassOptions,
  type MakeWorkerOptions,
  type SyncBackendRpcInterface,
  type ValidatePayloadContext,
  makeDurableObject,
  makeWorker,
} from '@livestore/sync-cf/cf-worker'

// typed as LiveStore's docs type it (with the global DurableObjectNamespace, the reference's
// types give TS2589 "excessively deep" on makeWorker<Env>)
type Env = {
  SYNC_BACKEND_DO: CfTypes.DurableObjectNamespace<SyncBackendRpcInterface>
  OTHER_DO: CfTypes.DurableObjectNamespace
  DB: CfTypes.D1Database
  ADMIN_TOKEN: string
}

const userOf = (headers: ForwardedHeaders | undefined): string => headers?.get('x-user-id') ?? 'anonymous'

// onPush returns nothing; onPull a Promise; onPushRes and onPullRes Effects
export class SyncBackendDO extends makeDurableObject({
  onPush: (message, { storeId, payload, headers }) => {
    const names: string[] = message.batch.map((event) => event.name)
    const seqNums: number[] = message.batch.map((event) => event.seqNum + event.parentSeqNum)
    if (message.backendId._tag === 'Some') console.log(message.backendId.value.toUpperCase())
    if (names.includes('v1.Forbidden')) throw new Error(`${userOf(headers)} may not push to ${storeId}`)
    console.log(seqNums, payload)
  },
  onPull: async (message, context: CallbackContext) => {
    const cursor = message.cursor._tag === 'Some' ? message.cursor.value.eventSequenceNumber : 0
    await Promise.resolve(cursor + context.storeId.length)
  },
  onPushRes: (message) => Effect.log('pushed', message),
  onPullRes: (message) =>
    Effect.gen(function* () {
      if ('batch' in message) yield* Effect.log(message.batch.length, message.backendId, message.pageInfo._tag)
      else yield* Effect.logWarning(message._tag)
    }),
  forwardHeaders: ['cookie', 'authorization', 'x-user-id'],
  storage: { _tag: 'd1', binding: 'DB' },
  enabledTransports: new Set(['ws', 'http']),
  http: { responseHeaders: { 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' } },
}) {}

// forwardHeaders as a function; the other storage; every transport; Effect-returning onPush/onPull
const options: MakeDurableObjectClassOptions = {
  forwardHeaders: (request) => ({
    'x-user-id': request.headers.get('x-user-id') ?? '',
    'x-session': request.headers.get('cookie')?.split('session=')[1]?.split(';')[0] ?? '',
  }),
  // the reference's types allow an Effect that cannot fail (a defect refuses the push)
  onPush: (message, { headers }) =>
    Effect.sync(() => {
      if (message.batch.length > 100) throw new Error(`too many events from ${userOf(headers)}`)
    }),
  onPull: () => Effect.void,
  onPushRes: async () => {},
  onPullRes: () => {},
  storage: { _tag: 'do-sqlite' },
  enabledTransports: new Set<'http' | 'ws' | 'do-rpc'>(['http', 'ws', 'do-rpc']),
}
export class OtherDO extends makeDurableObject(options) {}

const SyncPayload = Schema.Struct({ authToken: Schema.String, userId: Schema.optional(Schema.String) })

// the Env's Durable Object bindings; a validatePayload written apart
const validateUser = (payload: unknown, { headers }: ValidatePayloadContext) => {
  if (typeof payload !== 'object' || payload === null || headers.get('x-user-id') === null) throw new Error('no user')
}
export const other = makeWorker<Env>({ syncBackendBinding: 'OTHER_DO', validatePayload: validateUser })

export default makeWorker({
  syncBackendBinding: 'SYNC_BACKEND_DO',
  syncPayloadSchema: SyncPayload,
  // the payload is the schema's type, the context has the request's headers
  validatePayload: async (payload, { storeId, headers }) => {
    const token: string = payload.authToken
    const user: string | undefined = payload.userId
    const cookie: string | undefined = headers.get('cookie')
    if (token !== `${storeId}:${user}:${cookie}`) throw new Error('Invalid auth token')
  },
  enableCORS: true,
})

// the Worker is an ExportedHandler-shaped object
export const fetchIt = (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> =>
  makeWorker<Env>({ syncBackendBinding: 'SYNC_BACKEND_DO' }).fetch(request, env, ctx)

// an app's own subclass: its constructor, a handler answering by itself, a handler calling the base
export class WrappedDO extends makeDurableObject({ onPush: async () => {} }) {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    console.log('instance of', ctx.id.toString(), env.ADMIN_TOKEN.length)
  }

  override fetch(request: Request) {
    if (new URL(request.url).pathname === '/ping') return new Response('pong')
    return super.fetch(request)
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean) {
    console.log('closed', code)
    await super.webSocketClose?.(ws, code, reason, wasClean)
  }
}

export const handler = makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO' }) satisfies ExportedHandler<Env>
