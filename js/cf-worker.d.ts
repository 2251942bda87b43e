// Types of `livestore-sync-rs/cf-worker`: the API of `@livestore/sync-cf/cf-worker` 0.4.0, written
// so that a Worker file that type-checks against that package type-checks against this one
// (tests/types: the same app files checked against both). No import from `@livestore/*` or
// `effect`: an Effect Schema is recognised by its `Type`, and hooks may return anything those
// packages' hooks may (nothing, a Promise, an Effect), so their result type is `unknown`.
// `CfTypes` is `@cloudflare/workers-types` (an optional peer here; a dependency of the
// reference); everything else uses only the global Fetch types (`Request`, `Response`,
// `WebSocket`, `HeadersInit`), which `@cloudflare/workers-types`, `wrangler types` and the DOM
// library all declare; Cloudflare-only parameters (`ctx`) are `any`.

export type * as CfTypes from '@cloudflare/workers-types'

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** Effect's `Option`, as the messages carry it. */
export type Option<A> = { readonly _tag: 'None' } | { readonly _tag: 'Some'; readonly value: A }

export type StoreId = string
export type DurableObjectId = string
export type Env = {}

export type EventEncoded = {
  readonly name: string
  readonly args: any
  readonly seqNum: number
  readonly parentSeqNum: number
  readonly clientId: string
  readonly sessionId: string
}

/** What `onPush` gets (the reference declares `batch` and `backendId`; both carry the rest). */
export type PushRequest = {
  readonly storeId?: string
  readonly payload?: JsonValue
  readonly batch: readonly EventEncoded[]
  readonly backendId: Option<string>
}

/** What `onPull` gets (the reference declares `cursor`; both carry the rest). */
export type PullRequest = {
  readonly storeId?: string
  readonly payload?: JsonValue
  readonly cursor: Option<{ readonly backendId: string; readonly eventSequenceNumber: number }>
  readonly live?: boolean
}

export type PullResponse = {
  readonly batch: readonly {
    readonly eventEncoded: EventEncoded
    readonly metadata: Option<{ readonly _tag: 'SyncMessage.SyncMetadata'; readonly createdAt: string }>
  }[]
  readonly pageInfo: { readonly _tag: 'MoreUnknown' } | { readonly _tag: 'MoreKnown'; readonly remaining: number } | { readonly _tag: 'NoMore' }
  readonly backendId: string
}

export type PushAck = {}

/** LiveStore's `UnknownError` (an Error with a `_tag`), as `onPushRes`/`onPullRes` may get it. */
export type UnknownError = Error & {
  readonly _tag: 'UnknownError'
  readonly cause: unknown
  readonly note?: string | undefined
  readonly payload?: unknown
}

/** Headers forwarded from the request to callbacks (lowercased names). */
export type ForwardedHeaders = ReadonlyMap<string, string>

export type ForwardHeadersOption = readonly string[] | ((request: Request) => Record<string, string>)

export type CallbackContext = {
  storeId: StoreId
  payload?: JsonValue
  /** Headers forwarded from the request (only present if `forwardHeaders` is configured) */
  headers?: ForwardedHeaders
}

export type MakeDurableObjectClassOptions = {
  onPush?: (message: PushRequest, context: CallbackContext) => unknown
  onPushRes?: (message: PushAck | UnknownError) => unknown
  onPull?: (message: PullRequest, context: CallbackContext) => unknown
  onPullRes?: (message: PullResponse | UnknownError) => unknown
  forwardHeaders?: ForwardHeadersOption
  storage?: { _tag: 'do-sqlite' } | { _tag: 'd1'; binding: string }
  enabledTransports?: Set<'http' | 'ws' | 'do-rpc'>
  http?: { responseHeaders?: Record<string, string> }
  /** Not supported by livestore-sync-rs: refused at start-up (see its README). */
  otel?: { baseUrl?: string; serviceName?: string }
}

export type ValidatePayloadContext = {
  storeId: string
  /** Request headers (raw, not filtered by forwardHeaders) */
  headers: ForwardedHeaders
}

/** A Durable Object namespace binding, recognised by its shape (global or `CfTypes` one). */
type AnyDurableObjectNamespace = {
  idFromName(name: string): unknown
  newUniqueId(...args: any[]): unknown
  get(...args: any[]): unknown
}

type DurableObjectKeys<TEnv> = { [K in keyof TEnv]-?: TEnv[K] extends AnyDurableObjectNamespace ? K : never }[keyof TEnv]

/**
 * The names of the Durable Object bindings of `TEnv` (the reference's
 * `HelperTypes.ExtractDurableObjectKeys`): any string when `TEnv` declares none.
 */
export type ExtractDurableObjectKeys<TEnv> = DurableObjectKeys<TEnv> extends never ? string : DurableObjectKeys<TEnv> & string

/**
 * An Effect Schema (`Schema.Schema<A, I, never>` of the package `effect`) decoding to `A`, recognised
 * by its type-level fields, so that `A` types `validatePayload`'s payload.
 */
export type PayloadSchema<A> = {
  readonly Type: A
  readonly Encoded: unknown
  readonly Context: never
  readonly ast: unknown
}

export type MakeWorkerOptions<TEnv extends Env = Env, TSyncPayload = JsonValue> = {
  /** The sync Durable Object's binding; may be omitted when the Worker has exactly one. */
  syncBackendBinding?: ExtractDurableObjectKeys<TEnv>
  /** An Effect Schema the payload is decoded with before `validatePayload` (needs `effect`). */
  syncPayloadSchema?: PayloadSchema<TSyncPayload>
  validatePayload?: (payload: TSyncPayload, context: ValidatePayloadContext) => void | Promise<void>
  /** @default false */
  enableCORS?: boolean
}

export type CFWorker<TEnv extends Env = Env, _T = undefined> = {
  fetch: <CFHostMetada = unknown>(request: Request, env: TEnv, ctx: any) => Promise<Response>
}

export type SearchParams = {
  readonly storeId: string
  readonly payload?: JsonValue
  readonly transport: 'http' | 'ws'
}

export declare const makeWorker: <TEnv extends Env = Env, TDurableObjectRpc = undefined, TSyncPayload = JsonValue>(
  options: MakeWorkerOptions<TEnv, TSyncPayload>,
) => CFWorker<TEnv, TDurableObjectRpc>

export declare const handleSyncRequest: <TEnv extends Env = Env, TDurableObjectRpc = undefined, CFHostMetada = unknown, TSyncPayload = JsonValue>(args: {
  request: Request
  searchParams: SearchParams
  env?: TEnv | undefined
  ctx: any
  syncBackendBinding?: MakeWorkerOptions<TEnv, TSyncPayload>['syncBackendBinding']
  headers?: HeadersInit | undefined
  validatePayload?: MakeWorkerOptions<TEnv, TSyncPayload>['validatePayload']
  syncPayloadSchema?: MakeWorkerOptions<TEnv, TSyncPayload>['syncPayloadSchema']
}) => Promise<Response>

export declare const matchSyncRequest: (request: Request) => SearchParams | undefined

export interface SyncBackendRpcInterface {
  __DURABLE_OBJECT_BRAND: never
  rpc(payload: Uint8Array): Promise<Uint8Array | ReadableStream>
}

/** The sync Durable Object, as Cloudflare's `DurableObject` interface declares its handlers. */
export type DoObject<T> = T & {
  fetch(request: Request): Response | Promise<Response>
  alarm(alarmInfo?: any): void | Promise<void>
  webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void | Promise<void>
  webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): void | Promise<void>
  webSocketError(ws: WebSocket, error: unknown): void | Promise<void>
}

/** The object's `ctx` (Cloudflare's `DurableObjectState`; `any` here so that no Workers type is required). */
export type DoState = any

export type MakeDurableObjectClass = (options?: MakeDurableObjectClassOptions) => {
  new (ctx: DoState, env: Env): DoObject<SyncBackendRpcInterface>
}

export declare const makeDurableObject: MakeDurableObjectClass
