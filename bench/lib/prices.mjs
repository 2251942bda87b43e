// Cloudflare's published prices, in US dollars, as the cost table turns measured units into money.
// Read on 4 Dec 2026 from the Cloudflare documentation's sources (github.com/cloudflare/cloudflare-docs):
//   Durable Objects  https://developers.cloudflare.com/durable-objects/platform/pricing/
//                    (src/content/partials/durable-objects/durable-objects-pricing.mdx)
//   Workers          https://developers.cloudflare.com/workers/platform/pricing/
//                    (src/content/docs/workers/platform/pricing.mdx)
//   D1               https://developers.cloudflare.com/d1/platform/pricing/ ("rows read and rows
//                    written included limits and rates match D1 pricing", says the DO page)
// Marginal prices of the Workers Paid plan: the monthly inclusions (10 M Worker requests, 1 M DO
// requests, 400,000 GB-s, 25 bn rows read, 50 M rows written) and the $5 minimum are left out, so a
// figure is what more traffic adds to the bill. Storage (GB-month) is the same data either way and
// is not counted.
export const PRICES_READ_ON = '2026-12-04'

/** Worker: per inbound request (a WebSocket upgrade counts once; its messages do not). */
export const WORKER_REQUEST_USD = 0.3 / 1e6
/** Worker: per CPU millisecond (Standard usage model). */
export const WORKER_CPU_MS_USD = 0.02 / 1e6
/** Durable Object: per request (HTTP request, RPC session, alarm invocation; 20 incoming WebSocket messages count as one). */
export const DO_REQUEST_USD = 0.15 / 1e6
export const DO_WS_MESSAGES_PER_REQUEST = 20
/** Durable Object: per GB-second of duration, billed at 128 MB while active (not while idle and hibernatable). */
export const DO_GB_S_USD = 12.5 / 1e6
export const DO_MEMORY_GB = 0.128
/** SQLite in Durable Objects and D1: per row read / written (each setAlarm() is one row written). */
export const ROW_READ_USD = 0.001 / 1e6
export const ROW_WRITTEN_USD = 1.0 / 1e6
