// HS256 JSON Web Tokens with node:crypto only: `npm run token` (scripts/dev-token.mjs), the bench's
// rule-cost tokens and the e2e and browser tests all mint theirs here.
import { createHmac } from 'node:crypto'

/** base64url of a string (as UTF-8) or of any other value's JSON. */
export const b64url = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url')

/** The HS256 signature (base64url) of a JWS signing input `<header>.<payload>`. */
export const signHs256 = (input, secret) => createHmac('sha256', secret).update(input).digest('base64url')

/**
 * A compact HS256 JWT: `b64url(header).b64url(claims).signature`. The header is written as given
 * (default `{"alg":"HS256","typ":"JWT"}`), so a caller can sign a deliberately odd header too.
 */
export const mintHs256 = (claims, secret, header = { alg: 'HS256', typ: 'JWT' }) => {
  const input = `${b64url(header)}.${b64url(claims)}`
  return `${input}.${signHs256(input, secret)}`
}
