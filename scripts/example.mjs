#!/usr/bin/env node
// `npm run example`: our Worker under `wrangler dev` WITH JWT authentication (the local dev secret,
// store claim `stores`), and the example app (examples/web) under Vite's dev server, whose dev-only
// /dev-token endpoint signs tokens with the same secret. Prints the URL to open; Ctrl-C stops both.
//
//   EXAMPLE_SYNC_PORT (8787)  port of the Worker        EXAMPLE_APP_PORT (5173)  port of the app
//   EXAMPLE_STATE             the Worker's storage (default .wrangler/example-state, kept between runs)
//
// Installs the packages it needs when they are missing (npm ci, here and in examples/web). Builds
// the Rust worker (npm run build) only when build/index.js is missing.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const EXAMPLE = path.join(REPO, 'examples/web')
const DEV_SECRET = 'a-local-development-secret-of-32-chars' // = examples/web/dev-token.ts; local only
const syncPort = Number(process.env.EXAMPLE_SYNC_PORT ?? 8787)
const appPort = Number(process.env.EXAMPLE_APP_PORT ?? 5173)
const persistTo = path.resolve(REPO, process.env.EXAMPLE_STATE ?? '.wrangler/example-state')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const run = (what, cmd, args, cwd) => {
  console.log(`> ${what}`)
  const res = spawnSync(cmd, args, { cwd, stdio: 'inherit' })
  if (res.status !== 0) {
    console.error(`${what} failed (exit ${res.status ?? res.signal})`)
    process.exit(res.status || 1)
  }
}

if (!existsSync(path.join(REPO, 'node_modules/wrangler'))) run('npm ci', npm, ['ci', '--no-audit', '--no-fund'], REPO)
if (!existsSync(path.join(EXAMPLE, 'node_modules/vite'))) run('npm ci (examples/web)', npm, ['ci', '--no-audit', '--no-fund'], EXAMPLE)
if (!existsSync(path.join(REPO, 'build/index.js'))) run('npm run build', npm, ['run', 'build'], REPO)

// imported only now: it needs the packages installed above
const { startServer } = await import('../tests/support/wrangler-dev.mjs')

console.log(`> wrangler dev on http://127.0.0.1:${syncPort} (JWT_SECRET = the local dev secret, JWT_STORE_CLAIM = stores, JWT_READONLY_CLAIM = readonly)`)
const server = await startServer({
  kind: 'ours',
  port: syncPort,
  persistTo,
  env: { AUTH_MODE: 'jwt', JWT_SECRET: DEV_SECRET, JWT_STORE_CLAIM: 'stores', JWT_READONLY_CLAIM: 'readonly' },
  tag: 'example',
})
console.log(`  its log (removed when it stops): ${server.logFile}`)

const node = path.join(REPO, 'node_modules/node/bin/node')
const app = spawn(
  existsSync(node) ? node : process.execPath,
  [path.join(EXAMPLE, 'node_modules/vite/bin/vite.js'), '--port', String(appPort), '--strictPort', '--host', '127.0.0.1', '--clearScreen', 'false'],
  {
    cwd: EXAMPLE,
    env: { ...process.env, VITE_SYNC_URL: server.url, DEV_JWT_SECRET: DEV_SECRET },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // own process group: stopped below with everything it started
  },
)

// last resort (an exception, a crash): never leave the dev server behind
process.on('exit', () => {
  try {
    process.kill(-app.pid, 'SIGKILL')
  } catch {}
})

let stopping = false
const stop = async (code) => {
  if (stopping) return
  stopping = true
  try {
    process.kill(-app.pid, 'SIGTERM')
  } catch {}
  await server.stop()
  process.exit(code)
}
// the handlers of wrangler-dev.mjs turn these signals into process.exit; stop cleanly first
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.removeAllListeners(sig)
  process.on(sig, () => void stop(0))
}
app.once('exit', (code, signal) => {
  if (stopping) return
  console.error(`vite exited (${code ?? signal})`)
  void stop(1)
})

// wait until the app answers, then say where to go
const url = `http://127.0.0.1:${appPort}/`
for (let i = 0; ; i++) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
    if (res.ok) break
  } catch {}
  if (i > 300 || stopping) break
  await new Promise((r) => setTimeout(r, 100))
}
if (!stopping) {
  console.log(`
  Example app: ${url}
  Open it in two browsers (or a normal and a private window) to watch them sync. Try:
    ${url}?ttl=20            a 20-second token: watch it expire, edit offline, "Sign in again"
    ${url}?transport=http    makeHttpSync instead of makeWsSync
    ${url}?store=other       another store (the token is issued for that store only)
  Ctrl-C stops the app and the Worker.
`)
}
