// Dev-only token endpoint: `GET /dev-token?store=<storeId>&ttl=<seconds>[&role=viewer]` answers
// `{ "token": "<JWT>" }`, an HS256 JWT signed with the local development secret, valid for `ttl` seconds
// (default 300) and for that one store (claim `stores`, the Worker's JWT_STORE_CLAIM); `role=viewer`
// adds `readonly: true` (the Worker's JWT_READONLY_CLAIM): the token may pull, never push. It stands in for a real identity
// provider so the app's auth flow is the real one (the Worker verifies signature, expiry and store).
//
// It exists only on Vite's dev and preview servers (the configureServer / configurePreviewServer
// hooks): `vite build` output has no such endpoint, and the secret lives here, in Node, never in the
// browser bundle. The production Worker never mints tokens.
import { createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

import type { Plugin } from 'vite'

/** The obviously-local development secret (≥ 32 characters), shared with `npm run example`'s Worker. */
export const DEV_JWT_SECRET_DEFAULT = 'a-local-development-secret-of-32-chars'

const STORE_ID = /^[A-Za-z0-9_-]{1,128}$/
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

export const signDevToken = ({
  secret,
  storeId,
  ttlSeconds,
  readOnly = false,
}: { secret: string; storeId: string; ttlSeconds: number; readOnly?: boolean }) => {
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: readOnly ? 'dev-viewer' : 'dev-user', iat: now, exp: now + ttlSeconds, stores: [storeId], ...(readOnly ? { readonly: true } : {}) }
  const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

export const devTokenPlugin = ({ secret = DEV_JWT_SECRET_DEFAULT }: { secret?: string } = {}): Plugin => {
  if (secret.length < 32) throw new Error('dev token secret: at least 32 characters (the Worker refuses shorter ones)')
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const storeId = url.searchParams.get('store') ?? ''
    const ttl = Number(url.searchParams.get('ttl') ?? '300')
    const role = url.searchParams.get('role') ?? 'editor'
    const reply = (status: number, body: unknown) => {
      res.statusCode = status
      res.setHeader('Content-Type', 'application/json')
      res.setHeader('Cache-Control', 'no-store')
      res.end(JSON.stringify(body))
    }
    if (req.method !== 'GET') return reply(405, { error: 'GET only' })
    if (!STORE_ID.test(storeId)) return reply(400, { error: 'store: 1-128 characters of [A-Za-z0-9_-]' })
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) return reply(400, { error: 'ttl: whole seconds, 1-86400' })
    if (role !== 'editor' && role !== 'viewer') return reply(400, { error: 'role: editor or viewer' })
    reply(200, { token: signDevToken({ secret, storeId, ttlSeconds: ttl, readOnly: role === 'viewer' }) })
  }
  return {
    name: 'livestore-example-dev-token',
    configureServer: (server) => void server.middlewares.use('/dev-token', handler),
    configurePreviewServer: (server) => void server.middlewares.use('/dev-token', handler),
  }
}
