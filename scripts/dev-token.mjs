#!/usr/bin/env node
// Mints an HS256 JWT for local development and tests:
//   JWT_SECRET=... node scripts/dev-token.mjs [--ttl 3600] [--sub dev] [--stores 'a,b,team-*'] [--claim stores]
//     [--iss ...] [--aud ...] [--readonly [--readonly-claim readonly]] [--events 'todo*,userRenamed' [--events-claim events]]
// Prints the token. Uses only node:crypto; the secret is read from the environment, never printed.
import { mintHs256 } from './lib/hs256.mjs'

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : fallback
}
const secret = process.env.JWT_SECRET
if (!secret) {
  console.error('Set JWT_SECRET in the environment (the same value the server has).')
  process.exit(2)
}
const now = Math.floor(Date.now() / 1000)
const claims = { sub: opt('sub', 'dev'), iat: now, exp: now + Number(opt('ttl', '3600')) }
if (opt('iss')) claims.iss = opt('iss')
if (opt('aud')) claims.aud = opt('aud')
if (opt('stores')) claims[opt('claim', 'stores')] = opt('stores').split(',')
// read-only in every store the token opens (the server's JWT_READONLY_CLAIM names the claim)
if (args.includes('--readonly')) claims[opt('readonly-claim', 'readonly')] = true
// the event names (or prefixes ending in *) the token may push (JWT_EVENTS_CLAIM)
if (opt('events') !== undefined) claims[opt('events-claim', 'events')] = opt('events').split(',').filter(Boolean)
console.log(mintHs256(claims, secret))
