// Polling with a deadline, shared by the e2e and browser tests.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const describe = (v) => {
  if (v instanceof Error) return v.message
  if (typeof v === 'string') return v
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

/**
 * Polls `pred` (sync or async) until it returns a truthy value, which is returned. A `pred` that
 * throws is polled again (its error is kept as the last observation). When `timeoutMs` passes it
 * throws `timed out after <timeoutMs>ms waiting for <what>`, followed by the last observation:
 * `observe()` if given (e.g. how many events have arrived so far), else the last falsy value or
 * error of `pred` (unless that was just false/undefined/null).
 *
 * @template T
 * @param {string} what
 * @param {() => T | Promise<T>} pred
 * @param {number} [timeoutMs]
 * @param {{ intervalMs?: number, observe?: () => unknown }} [o]
 * @returns {Promise<T>}
 */
export const waitFor = async (what, pred, timeoutMs = 30_000, { intervalMs = 50, observe } = {}) => {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const v = await pred()
      if (v) return v
      last = v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      let seen = ''
      if (observe) {
        try {
          seen = ` (last observed: ${describe(await observe())})`
        } catch (e) {
          seen = ` (last observed: ${describe(e)})`
        }
      } else if (last !== false && last !== undefined && last !== null) {
        seen = ` (last: ${describe(last)})`
      }
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${seen}`)
    }
    await sleep(intervalMs)
  }
}
