// `livestore-sync-rs/cf-worker`: the API of `@livestore/sync-cf/cf-worker` 0.4.0 (makeWorker,
// makeDurableObject, handleSyncRequest, matchSyncRequest) on the Rust engine. An app switches by
// changing its import line.
//
// This file holds only the app's callbacks and the Cloudflare class shapes. Everything the
// protocol decides (decoding, admission, storage, chunking, broadcast, limits, which request calls
// which hook) is in the Rust object: this file hands it the options as JSON and one "bridge"
// object, in the `env` it passes on, whose functions run the app's callbacks and settle them
// (README, "Keep your Worker code"; src/api/, src/glue/api.rs).
import { env as importedEnv } from 'cloudflare:workers'

import RustWorker, { SyncBackendDO as RustSyncBackendDO } from '../build/index.js'
import { rustObjectClass } from './object.mjs'

/** The `env` key of the bridge (src/glue/api.rs BRIDGE_KEY). */
const BRIDGE_KEY = '__livestoreSyncRsBridge'

const EffectTypeId = Symbol.for('effect/Effect')
const isEffect = (value) =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && EffectTypeId in value

// `effect` is an optional peer: it is loaded only to run an Effect a hook returned or to decode
// with `syncPayloadSchema`, and an app that has it not installed never needs it.
let effectModule
const loadEffect = async () => {
  if (effectModule === undefined) {
    try {
      effectModule = await import('effect')
    } catch {
      effectModule = null
    }
  }
  if (effectModule === null) {
    throw new Error('livestore-sync-rs: a hook returned an Effect, but the package `effect` cannot be loaded')
  }
  return effectModule
}

/** JSON of the options, each function as `{"$function":true}` and each Set as an array. */
const optionsJson = (options) =>
  JSON.stringify(options ?? {}, (_key, value) =>
    typeof value === 'function' ? { $function: true } : value instanceof Set ? [...value] : value,
  )

const check = (fn, options) => {
  const problem = RustSyncBackendDO.checkApiOptions(fn, optionsJson(options))
  if (problem !== undefined) throw new Error(`livestore-sync-rs: ${problem}`)
}

/** Runs a callback that may return nothing, a Promise or an Effect; settles to its error, if any. */
const settle = async (callback, ...args) => {
  try {
    let result = callback(...args)
    if (isEffect(result)) {
      // its failure as the Error it failed with (as the reference reports it), not a FiberFailure
      const { Cause, Effect, Exit } = await loadEffect()
      const exit = await Effect.runPromiseExit(result)
      if (Exit.isFailure(exit)) throw Cause.squash(exit.cause)
    }
    await result
    return undefined
  } catch (error) {
    return {
      name: typeof error?.name === 'string' ? error.name : 'Error',
      message: typeof error?.message === 'string' ? error.message : String(error),
    }
  }
}

const headersMap = (json) =>
  json === undefined ? undefined : new Map(Object.entries(JSON.parse(json)))

/** The env our Rust code sees: the app's bindings, and the bridge. */
const withBridge = (env, bridge) => ({ ...env, [BRIDGE_KEY]: bridge })

const requestHeaders = (request) => {
  const map = new Map()
  request.headers.forEach((value, key) => map.set(key.toLowerCase(), value))
  return map
}

/** The Worker's bridge: `validatePayload` (after `syncPayloadSchema`) settles to a 400's body. */
const workerBridge = (kind, options) => ({
  kind,
  options: optionsJson(options),
  validatePayload: async (payloadJson, storeId, request) => {
    let payload = payloadJson === undefined ? undefined : JSON.parse(payloadJson)
    if (options.syncPayloadSchema !== undefined) {
      const { Schema } = await loadEffect()
      const decoded = Schema.decodeUnknownEither(options.syncPayloadSchema)(payload)
      if (decoded._tag === 'Left') return decoded.left.toString()
      payload = decoded.right
    }
    try {
      await options.validatePayload(payload, { storeId, headers: requestHeaders(request) })
      return undefined
    } catch (error) {
      // the reference's 400 body: String(UnknownError) of what the callback threw
      return `UnknownError: { "cause": ${String(error)}, "note": undefined, "payload": undefined }`
    }
  },
})

const rustFetch = (request, env, ctx) => RustWorker.prototype.fetch.call({ env, ctx }, request)

/**
 * Extracts the LiveStore sync search parameters from a request; `undefined` when it is not a
 * sync request.
 */
export const matchSyncRequest = (request) => {
  const json = RustSyncBackendDO.matchSyncRequest(request.url)
  return json === undefined ? undefined : JSON.parse(json)
}

/** A Worker `fetch` handler that sends sync traffic to the sync Durable Object. */
export const makeWorker = (options = {}) => {
  check('makeWorker', options)
  const bridge = workerBridge('makeWorker', options)
  return {
    fetch: (request, env, ctx) => rustFetch(request, withBridge(env ?? importedEnv, bridge), ctx),
  }
}

/** Handles one LiveStore sync request (from a custom `fetch`, after `matchSyncRequest`). */
export const handleSyncRequest = async ({
  request,
  // the Rust side reads the sync parameters from the request's URL again (matchSyncRequest's)
  searchParams: _searchParams,
  env,
  ctx,
  syncBackendBinding,
  headers,
  validatePayload,
  syncPayloadSchema,
}) => {
  const options = { syncBackendBinding, validatePayload, syncPayloadSchema }
  check('handleSyncRequest', options)
  const bridge = workerBridge('handleSyncRequest', options)
  const response = await rustFetch(request, withBridge(env ?? importedEnv, bridge), ctx)
  if (headers === undefined || response.status === 101) return response
  // the caller's headers (e.g. its CORS headers) on every answer but a WebSocket's
  const answer = new Response(response.body, response)
  for (const [name, value] of new Headers(headers)) answer.headers.set(name, value)
  return answer
}

/** The sync Durable Object class: `export class SyncBackendDO extends makeDurableObject({…}) {}`. */
export const makeDurableObject = (options = {}) => {
  check('makeDurableObject', options)
  const bridge = {
    kind: 'durable-object',
    options: optionsJson(options),
    onPush: (message, storeId, headers) => {
      const request = JSON.parse(message)
      return settle(options.onPush, request, context(request, storeId, headers))
    },
    onPull: (message, storeId, headers) => {
      const request = JSON.parse(message)
      return settle(options.onPull, request, context(request, storeId, headers))
    },
    onPushRes: (message) => settle(options.onPushRes, JSON.parse(message)),
    // one call per PullResponse the chunk delivered
    onPullRes: async (messages) => {
      for (const response of JSON.parse(messages)) {
        const error = await settle(options.onPullRes, response)
        if (error !== undefined) return error
      }
      return undefined
    },
    forwardHeaders: (request) => {
      const headers = options.forwardHeaders(request)
      return headers === undefined ? undefined : JSON.stringify(headers)
    },
  }
  const context = (request, storeId, headers) => ({
    storeId,
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
    ...(headers !== undefined ? { headers: headersMap(headers) } : {}),
  })

  return rustObjectClass((env) => withBridge(env, bridge))
}
