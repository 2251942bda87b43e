// Worker-level HTTP routing and CORS (PROTOCOL.md 2.2 / 2.3).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { freshStoreId, syncQuery, useServer } from './harness.mjs'

const server = useServer()

const assertCors = (res, allowHeaders = '*') => {
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  assert.equal(res.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS')
  assert.equal(res.headers.get('access-control-allow-headers'), allowHeaders)
}

test('GET / → 200 text info page', async () => {
  const res = await fetch(`${server.url}/`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /^text\/plain/)
  const body = await res.text()
  assert.match(body, /Sync backend/)
  // a GET of / whose query is not a valid sync request is the info page too
  const partial = await fetch(`${server.url}/?storeId=x`)
  assert.equal(partial.status, 200)
  assert.match(await partial.text(), /Sync backend/)
})

test('non-sync requests → 400 with CORS headers', async () => {
  for (const p of ['/foo', '/foo?storeId=x', '/a/b?storeId=x&transport=carrier-pigeon', '/x?transport=ws']) {
    const res = await fetch(`${server.url}${p}`)
    assert.equal(res.status, 400, `${p}`)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    await res.text()
    assertCors(res)
  }
  const post = await fetch(`${server.url}/`, { method: 'POST', body: 'x' })
  assert.equal(post.status, 400, 'POST / without sync params')
  await post.text()
})

test('transport=ws without Upgrade → 426 with CORS headers', async () => {
  const res = await fetch(`${server.url}/?${syncQuery({ storeId: freshStoreId('noupgrade') })}`)
  assert.equal(res.status, 426)
  await res.text()
  assertCors(res)
  // any path is routed the same way
  const other = await fetch(`${server.url}/some/path?${syncQuery({ storeId: freshStoreId('noupgrade'), payload: { authToken: 't' } })}`)
  assert.equal(other.status, 426)
  await other.text()
})

test('OPTIONS preflight → 204 with CORS headers echoing Access-Control-Request-Headers', async () => {
  const res = await fetch(`${server.url}/?${syncQuery({ storeId: 's', transport: 'http' })}`, {
    method: 'OPTIONS',
    headers: {
      Origin: 'https://app.example',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-livestore-store-id,authorization',
    },
  })
  assert.equal(res.status, 204)
  assert.equal(await res.text(), '')
  assertCors(res, 'content-type,x-livestore-store-id,authorization')

  // any path; without Access-Control-Request-Headers the allowed headers are '*'
  const bare = await fetch(`${server.url}/anything`, { method: 'OPTIONS' })
  assert.equal(bare.status, 204)
  await bare.text()
  assertCors(bare, '*')
})
