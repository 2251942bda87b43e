// Small helpers shared by the workloads: store ids, medians, percentiles.
import { randomBytes } from 'node:crypto'

export const freshStoreId = (label) => `bench-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`

export const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (!v.length) return undefined
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

/** {n, p50, p90, p99, max, mean} (nearest-rank), or undefined for no values. */
export const percentiles = (values) => {
  if (!values.length) return undefined
  const s = Float64Array.from(values).sort()
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
  return {
    n: s.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  }
}
