// The hooks of the benchmark's pkg-hooks and ref-hooks servers (bench/apps/pkg-hooks.mjs and
// bench/reference/worker-hooks.ts import this very file, so both run the same code): the shape of
// LiveStore's Auth page example, async onPush/onPull that log one line each and an async
// validatePayload that checks a token. One event name makes onPush slow (the `slowhook` workload):
// its hook awaits SLOW_HOOK_MS before the push goes on; every other push only logs.

/** The token the benchmark's clients send in their sync payload to these servers. */
export const BENCH_TOKEN = 'bench-token-0123456789'
/** A push whose first event has this name waits SLOW_HOOK_MS in onPush. */
export const SLOW_EVENT = 'benchSlowHook-v1'
export const SLOW_HOOK_MS = 200

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const onPush = async (message, { storeId, payload }) => {
  console.log(`onPush store=${storeId} events=${message.batch.length} token=${typeof payload?.authToken}`)
  if (message.batch[0]?.name === SLOW_EVENT) await sleep(SLOW_HOOK_MS)
}

export const onPull = async (message, { storeId, payload }) => {
  console.log(`onPull store=${storeId} cursor=${message.cursor._tag} token=${typeof payload?.authToken}`)
}

export const validatePayload = async (payload, { storeId }) => {
  if (payload?.authToken !== BENCH_TOKEN) throw new Error(`Invalid auth token for store ${storeId}`)
}
