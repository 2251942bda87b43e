// The npm package as an app gets it: `npm pack` (which builds the Wasm), the tarball installed
// into a fresh app folder outside the repository with only Node on PATH (no Rust toolchain), and
// app Workers in the shape LiveStore's docs show, run by that app's own `wrangler dev` and driven
// by the published client. Run by tests/package/run.mjs (`npm run test:package`).
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { mintHs256 } from '../../scripts/lib/hs256.mjs'
import { encodedFailure, ev, freshStoreId, makeClient, rawCollectPull, rawConnect, rawPush, seqNumsOf } from '../e2e/harness.mjs'
import { freePort, QUIET_ENV } from '../support/wrangler-dev.mjs'
import { waitFor } from '../support/wait.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(here, '../..')
const SECRET = 'package-test-secret-0123456789abcdef'
/** Wrangler versions an app may run: sync-cf 0.4.0's own (4.50.0) up to ours. */
const ourWrangler = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).devDependencies.wrangler
const ourEffect = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).devDependencies.effect
const WRANGLERS = (process.env.PACKAGE_WRANGLERS ?? `4.50.0,${ourWrangler}`).split(',').filter(Boolean)

const work = mkdtempSync(path.join(os.tmpdir(), 'livestore-sync-rs-package-'))
// Node and npm first on PATH; no cargo, rustc, worker-build or wasm-bindgen anywhere on it
const nodeOnlyBin = path.join(work, 'bin')
mkdirSync(nodeOnlyBin)
// this Node (the runner's Node 22: wrangler 4.164 needs 22.12 or later), and the system's npm
symlinkSync(process.execPath, path.join(nodeOnlyBin, 'node'))
for (const tool of ['npm', 'npx']) {
  const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
  symlinkSync(found, path.join(nodeOnlyBin, tool))
}
// the system's own folders stay (install scripts need `sh`), but none of them may hold a Rust tool
const APP_PATH = [nodeOnlyBin, '/usr/bin', '/bin'].join(path.delimiter)
for (const tool of ['cargo', 'rustc', 'rustup', 'worker-build', 'wasm-bindgen']) {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: APP_PATH } })
  if (found.status === 0) throw new Error(`${tool} is on the app's PATH (${found.stdout}): the test needs a PATH without Rust`)
}
const appEnv = { ...process.env, ...QUIET_ENV, PATH: APP_PATH, npm_config_update_notifier: 'false' }

let tarball
before(() => {
  // the package's own pack step builds the Wasm (prepack); the tarball is what an app installs
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, CARGO_FEATURES: '', SKIP_BUILD: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [info] = JSON.parse(out)
  tarball = path.join(work, info.filename)
  console.log(`# tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files`)
  assert.ok(info.files.some((f) => f.path === 'build/index_bg.wasm'), 'the tarball carries the built Wasm')
})
after(() => rmSync(work, { recursive: true, force: true }))

/** Copies app `name` into a fresh folder and installs the tarball, jose, `extra` and `wrangler@version`. */
const installApp = (name, wrangler, extra = []) => {
  const dir = path.join(work, `${name}-wrangler-${wrangler}`)
  cpSync(path.join(here, 'apps', name), dir, { recursive: true })
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: `app-${name}`, private: true, type: 'module' }, null, 2),
  )
  execFileSync('npm', ['install', '--no-audit', '--no-fund', tarball, 'jose@6', ...extra, `wrangler@${wrangler}`], {
    cwd: dir,
    env: appEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  assert.ok(!existsSync(path.join(dir, 'node_modules/@livestore')), 'no @livestore package is installed with it')
  return dir
}

/** The app's own `wrangler dev`, with only Node on PATH; resolves once it serves. */
const startApp = async (dir) => {
  const port = await freePort()
  const log = path.join(dir, 'wrangler.log')
  const child = spawn(
    'node',
    [path.join(dir, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--show-interactive-dev-session=false'],
    { cwd: dir, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const url = `http://127.0.0.1:${port}`
  await waitFor(
    `the app's wrangler dev on port ${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}): ${output.slice(-2000)}`)
      return (await fetch(url).catch(() => undefined)) !== undefined
    },
    90_000,
    { intervalMs: 250, observe: () => output.slice(-2000) },
  )
  return {
    url,
    wsUrl: url.replace('http', 'ws'),
    output: () => output,
    stop: async () => {
      writeFileSync(log, output)
      try {
        process.kill(-child.pid, 'SIGTERM')
      } catch {}
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))
    },
  }
}

const token = (expInSeconds = 600) => mintHs256({ sub: 'user-1', exp: Math.floor(Date.now() / 1000) + expInSeconds }, SECRET)

/** The status and body of a refused WebSocket upgrade. */
const refusedUpgrade = async (server, payload) => {
  const e = await rawConnect(server, { storeId: freshStoreId('pkg-refused'), payload }).then(
    (conn) => {
      conn.close()
      return undefined
    },
    (error) => error,
  )
  assert.ok(e !== undefined, 'the upgrade is refused')
  return { status: e.status, body: e.body }
}

for (const wrangler of WRANGLERS) {
  describe(`wrangler ${wrangler}`, () => {
    test('the Auth page Worker: a valid token syncs; missing, bad and expired tokens get 400', async () => {
      const server = await startApp(installApp('auth-page', wrangler))
      try {
        const storeId = freshStoreId('pkg-auth')
        const client = await makeClient({ url: server.wsUrl, storeId, payload: { authToken: token() }, timeoutMs: 20_000 })
        try {
          await client.run(client.backend.connect)
          await client.run(client.backend.push([ev(1), ev(2)]))
          assert.deepEqual(seqNumsOf(await client.collectPull()), [1, 2])
        } finally {
          await client.close()
        }
        await waitFor('the hooks in the app log', () =>
          server.output().includes(`onPush store=${storeId} events=2 token=string`) && server.output().includes(`onPull store=${storeId} cursor=None`),
        )
        const missing = await refusedUpgrade(server, undefined)
        assert.equal(missing.status, 400)
        assert.equal(missing.body, 'UnknownError: { "cause": Error: Missing auth token, "note": undefined, "payload": undefined }')
        const bad = await refusedUpgrade(server, { authToken: 'not-a-jwt' })
        assert.equal(bad.status, 400)
        assert.match(bad.body, /^UnknownError: \{ "cause": JWSInvalid: /)
        const expired = await refusedUpgrade(server, { authToken: token(-60) })
        assert.equal(expired.status, 400)
        assert.match(expired.body, /^UnknownError: \{ "cause": JWTExpired: /)
      } finally {
        await server.stop()
      }
    })

    test('an onPush that refuses one event name: the push is refused whole, nothing stored, other pushes pass', async () => {
      const server = await startApp(installApp('refuse-event', wrangler))
      try {
        const storeId = freshStoreId('pkg-refuse')
        const conn = await rawConnect(server, { storeId, headers: { Cookie: 'theme=dark; user=ada' } })
        try {
          const forbidden = [ev(1), ev(2, 1, { name: 'v1.Forbidden' })]
          const refused = encodedFailure(await rawPush(conn, { storeId, batch: forbidden }))
          assert.deepEqual(refused, { cause: { name: 'Error', message: 'ada may not push v1.Forbidden' }, _tag: 'UnknownError' })
          assert.deepEqual(seqNumsOf((await rawCollectPull(conn, { storeId })).responses), [], 'nothing of the refused push is stored')
          assert.equal((await rawPush(conn, { storeId, batch: [ev(1), ev(2)] }))._tag, 'Success')
          assert.deepEqual(seqNumsOf((await rawCollectPull(conn, { storeId })).responses), [1, 2])
        } finally {
          conn.close()
        }
      } finally {
        await server.stop()
      }
    })

    test('Effect-returning hooks and syncPayloadSchema', async () => {
      const server = await startApp(installApp('effect-hooks', wrangler, [`effect@${ourEffect}`]))
      try {
        const storeId = freshStoreId('pkg-effect')
        const wrongShape = await refusedUpgrade(server, { authToken: 42 })
        assert.equal(wrongShape.status, 400)
        assert.match(wrongShape.body, /Expected string, actual 42/)
        const wrongToken = await refusedUpgrade(server, { authToken: 'guess' })
        assert.equal(wrongToken.status, 400)
        assert.match(wrongToken.body, /Error: wrong token/)
        const conn = await rawConnect(server, { storeId, payload: { authToken: 'letmein' } })
        try {
          const refused = encodedFailure(await rawPush(conn, { storeId, batch: [ev(1, 0, { name: 'v1.Forbidden' })] }))
          assert.deepEqual(refused, { cause: { name: 'Error', message: 'refused by an Effect' }, _tag: 'UnknownError' })
          assert.equal((await rawPush(conn, { storeId, batch: [ev(1)] }))._tag, 'Success')
          assert.deepEqual(seqNumsOf((await rawCollectPull(conn, { storeId })).responses), [1])
        } finally {
          conn.close()
        }
      } finally {
        await server.stop()
      }
    })

    test('handleSyncRequest inside a custom fetch that serves other routes; WebSocket and HTTP clients', async () => {
      const server = await startApp(installApp('custom-fetch', wrangler))
      try {
        const health = await fetch(`${server.url}/health`)
        assert.equal(await health.text(), 'app ok')
        assert.equal((await fetch(`${server.url}/elsewhere`)).status, 404)
        const storeId = freshStoreId('pkg-custom')
        const ws = await makeClient({ url: server.wsUrl, storeId, timeoutMs: 20_000 })
        try {
          await ws.run(ws.backend.push([ev(1), ev(2)]))
        } finally {
          await ws.close()
        }
        const http = await makeClient({ url: server.url, storeId, transport: 'http', timeoutMs: 20_000 })
        try {
          await http.run(http.backend.push([ev(3)]))
          assert.deepEqual(seqNumsOf(await http.collectPull()), [1, 2, 3])
        } finally {
          await http.close()
        }
        const answer = await fetch(`${server.url}/?storeId=${storeId}&transport=http`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ _tag: 'Request', id: '1', tag: 'SyncHttpRpc.Ping', payload: { storeId }, traceId: 't', spanId: 's', sampled: false, headers: [] }),
        })
        assert.equal(answer.status, 200)
        assert.equal(answer.headers.get('x-app'), 'custom', "handleSyncRequest's headers")
        assert.equal(answer.headers.get('cache-control'), 'no-store', 'http.responseHeaders')
      } finally {
        await server.stop()
      }
    })
  })
}
