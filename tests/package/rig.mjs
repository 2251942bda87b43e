// The packed-package test's rig: the tarball, one install root per server target (the apps'
// folders live inside it, so Node and esbuild resolve their packages from the root's
// node_modules), and the app Workers under that root's own `wrangler dev`, with only Node on PATH.
//
// Targets: livestore-sync-rs (the tarball, installed with `npm install` as an app does, no Rust
// tool and no @livestore package) under each wrangler of PACKAGE_WRANGLERS, and the reference, the
// published @livestore/sync-cf 0.4.0: the same app files with their import line switched back to
// `@livestore/sync-cf/cf-worker`, resolved from the repository's node_modules (and its wrangler).
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { addClientBinding, CLIENT_CONFIG, doRpcHelpers } from '../support/do-rpc-client.mjs'
import { waitFor } from '../support/wait.mjs'
import { freePort, killGroupNow, QUIET_ENV, stopGroup } from '../support/wrangler-dev.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
export const REPO = path.resolve(here, '../..')
const devDependencies = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).devDependencies
const OUR_WRANGLER = devDependencies.wrangler
const OUR_EFFECT = devDependencies.effect

/** The import line an app switches (ours), and the one it had before (the reference's). */
const OUR_IMPORT = `'livestore-sync-rs/cf-worker'`
const REFERENCE_IMPORT = `'@livestore/sync-cf/cf-worker'`

/**
 * The server targets each app runs on: ours under each wrangler version (default 4.50.0, the one
 * @livestore/sync-cf 0.4.0 uses, and the repository's), then the reference under the repository's
 * wrangler (PACKAGE_REFERENCE=0 leaves it out).
 */
export const TARGETS = [
  ...(process.env.PACKAGE_WRANGLERS ?? `4.50.0,${OUR_WRANGLER}`)
    .split(',')
    .filter(Boolean)
    .map((wrangler) => ({ kind: 'ours', wrangler, name: `livestore-sync-rs, wrangler ${wrangler}` })),
  ...(process.env.PACKAGE_REFERENCE === '0'
    ? []
    : [{ kind: 'ref', wrangler: OUR_WRANGLER, name: `reference @livestore/sync-cf 0.4.0, wrangler ${OUR_WRANGLER}` }]),
]

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

// every wrangler started here, for the last-resort cleanup; the work folder goes with the process
const running = new Set()
process.on('exit', () => {
  for (const pid of running) killGroupNow(pid)
  if (!process.env.PACKAGE_KEEP_WORK) rmSync(work, { recursive: true, force: true })
})
// a signal would end the process without 'exit': turn it into an exit so the handler above runs
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(128 + os.constants.signals[signal]))

let tarballPath
/** The tarball an app installs: PACKAGE_TARBALL, or `npm pack` of the repository (its prepack builds the Wasm). */
export const tarball = () => {
  if (tarballPath !== undefined) return tarballPath
  if (process.env.PACKAGE_TARBALL) {
    tarballPath = path.resolve(process.env.PACKAGE_TARBALL)
    assert.ok(existsSync(tarballPath), `PACKAGE_TARBALL ${tarballPath} does not exist`)
    const files = execFileSync('tar', ['-tzf', tarballPath], { encoding: 'utf8' }).split('\n')
    assert.ok(files.includes('package/build/index_bg.wasm'), 'the tarball carries the built Wasm')
    console.log(`# tarball ${tarballPath} (PACKAGE_TARBALL): ${files.filter(Boolean).length} files`)
    return tarballPath
  }
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, CARGO_FEATURES: '', SKIP_BUILD: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [info] = JSON.parse(out)
  tarballPath = path.join(work, info.filename)
  console.log(`# tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files`)
  assert.ok(info.files.some((f) => f.path === 'build/index_bg.wasm'), 'the tarball carries the built Wasm')
  return tarballPath
}

const roots = new Map()
/**
 * The install root of `target` (made once): ours, `npm install` of the tarball, jose, effect and
 * that wrangler, with only Node on PATH; the reference, `npm install` of jose (which the repository
 * does not have), and every other package linked from the repository's node_modules
 * (@livestore/sync-cf 0.4.0, effect, wrangler).
 */
const installRoot = (target) => {
  const key = `${target.kind}-${target.wrangler}`
  if (roots.has(key)) return roots.get(key)
  const dir = path.join(work, key)
  mkdirSync(dir)
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `apps-${key}`, private: true, type: 'module' }, null, 2))
  const install = (...specs) =>
    execFileSync('npm', ['install', '--no-audit', '--no-fund', ...specs], { cwd: dir, env: appEnv, stdio: ['ignore', 'ignore', 'inherit'] })
  const started = Date.now()
  if (target.kind === 'ours') {
    install(tarball(), 'jose@6', `effect@${OUR_EFFECT}`, `wrangler@${target.wrangler}`)
    assert.ok(!existsSync(path.join(dir, 'node_modules/@livestore')), 'no @livestore package is installed with it')
    const installed = JSON.parse(readFileSync(path.join(dir, 'node_modules/wrangler/package.json'), 'utf8')).version
    assert.equal(installed, target.wrangler)
  } else {
    install('jose@6')
    const repoModules = path.join(REPO, 'node_modules')
    for (const entry of readdirSync(repoModules)) {
      if (entry.startsWith('.') || existsSync(path.join(dir, 'node_modules', entry))) continue
      symlinkSync(path.join(repoModules, entry), path.join(dir, 'node_modules', entry))
    }
    const syncCf = JSON.parse(readFileSync(path.join(dir, 'node_modules/@livestore/sync-cf/package.json'), 'utf8')).version
    assert.equal(syncCf, '0.4.0', 'the reference is @livestore/sync-cf 0.4.0')
  }
  console.log(`# ${target.name}: install root ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  // wrangler 4.50.0 has no --inspector-ip (its inspector listens on 127.0.0.1); later ones do
  const cli = readFileSync(path.join(dir, 'node_modules/wrangler/wrangler-dist/cli.js'), 'utf8')
  const root = { dir, wrangler: path.join(dir, 'node_modules/wrangler/bin/wrangler.js'), inspectorIp: cli.includes('"inspector-ip"') }
  roots.set(key, root)
  return root
}

/**
 * The folder of app `name` in the install root of `target` (copied once from tests/package/apps):
 * for the reference, its worker.js with the import line switched back to @livestore/sync-cf.
 */
const appFolder = (target, name) => {
  const root = installRoot(target)
  const dir = path.join(root.dir, name)
  if (!existsSync(dir)) {
    cpSync(path.join(here, 'apps', name), dir, { recursive: true })
    if (target.kind === 'ref') {
      const file = path.join(dir, 'worker.js')
      const text = readFileSync(file, 'utf8')
      assert.equal(text.split(OUR_IMPORT).length, 2, `${name}/worker.js imports ${OUR_IMPORT} once`)
      writeFileSync(file, text.replace(OUR_IMPORT, REFERENCE_IMPORT))
    }
  }
  return { root, dir }
}

/** `name = "…"` and the first Durable Object class of a wrangler.toml. */
const workerOf = (configText) => ({
  name: configText.match(/^name\s*=\s*"([^"]+)"/m)[1],
  className: configText.match(/^class_name\s*=\s*"([^"]+)"/m)[1],
})

/**
 * The DO-RPC client harness (tests/do-rpc/client-worker) pointed at the app: its SYNC_BACKEND_DO
 * binding and SYNC_SERVER service name the app's Worker and class. Returns the config's path.
 */
const clientConfigFor = (dir, app) => {
  let text = readFileSync(CLIENT_CONFIG, 'utf8')
  const replace = (from, to) => {
    assert.ok(text.includes(from), `the client harness's config has ${from}`)
    text = text.replace(from, to)
  }
  replace('main = "./worker.ts"', `main = ${JSON.stringify(path.join(path.dirname(CLIENT_CONFIG), 'worker.ts'))}`)
  replace(
    'class_name = "SyncBackendDO"\nscript_name = "livestore-sync-rs"',
    `class_name = ${JSON.stringify(app.className)}\nscript_name = ${JSON.stringify(app.name)}`,
  )
  replace('service = "livestore-sync-rs"', `service = ${JSON.stringify(app.name)}`)
  const config = path.join(dir, 'do-rpc-client.toml')
  writeFileSync(config, text)
  return config
}

let starts = 0
/**
 * Starts app `name` of `target` under its install root's `wrangler dev` (only Node on PATH, a
 * fresh --persist-to folder) and resolves once it answers.
 *
 * `doRpcClient: true` runs the DO-RPC client harness in the same `wrangler dev` as its primary
 * worker (it forwards everything else to the app, so `url` still serves the app's WebSocket and
 * HTTP clients), and the app gets the reverse binding CLIENT_DO the DO-RPC transport calls back
 * through; `client(storeId, name)` and `rawRpc(storeId, …)` then drive it (do-rpc-client.mjs).
 */
export const startApp = async (target, name, { doRpcClient = false } = {}) => {
  const { root, dir } = appFolder(target, name)
  const persistTo = path.join(dir, `state-${++starts}`)
  const appConfigText = readFileSync(path.join(dir, 'wrangler.toml'), 'utf8')
  const app = workerOf(appConfigText)
  let configs = ['wrangler.toml']
  if (doRpcClient) {
    writeFileSync(path.join(dir, 'wrangler.do-rpc.toml'), addClientBinding(appConfigText))
    configs = [clientConfigFor(dir, app), 'wrangler.do-rpc.toml']
  }
  // A port freePort() found free can be taken by another process before wrangler binds it (the
  // workerd of an app stopped or started meanwhile picks ephemeral ports): then wrangler says so
  // and keeps running without serving. Such a start is stopped and made again on other ports.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = spawn(
      'node',
      [
        root.wrangler,
        'dev',
        ...configs.flatMap((c) => ['--config', c]),
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        ...(root.inspectorIp ? ['--inspector-ip', '127.0.0.1'] : []),
        '--inspector-port',
        String(await freePort()),
        '--persist-to',
        persistTo,
        '--show-interactive-dev-session=false',
      ],
      { cwd: dir, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    running.add(child.pid)
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const url = `http://127.0.0.1:${port}`
    const stop = async () => {
      if (!running.has(child.pid)) return
      running.delete(child.pid)
      await stopGroup(child.pid)
      writeFileSync(path.join(dir, `wrangler-${starts}${attempt > 1 ? `-attempt-${attempt}` : ''}.log`), output)
    }
    let portTaken = false
    try {
      await waitFor(
        `${name}'s wrangler dev (${target.name}) on port ${port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}): ${output.slice(-3000)}`)
          if (/Address already in use/.test(output)) {
            portTaken = true
            throw new Error(`a port of wrangler dev was taken (attempt ${attempt}): ${output.slice(-1000)}`)
          }
          const res = await fetch(url).catch(() => undefined)
          await res?.arrayBuffer()
          return res !== undefined
        },
        120_000,
        { intervalMs: 200, observe: () => output.slice(-3000) },
      )
    } catch (e) {
      await stop()
      if (portTaken && attempt < 3) continue
      throw e
    }
    return served({ url, dir, persistTo, name, output: () => output, doRpcClient, stop })
  }
}

/** What startApp resolves with, for an app that serves on `url`. */
const served = ({ url, dir, persistTo, name, output, doRpcClient, stop }) => ({
  url,
  wsUrl: url.replace('http', 'ws'),
  dir,
  persistTo,
  /** Everything wrangler dev printed so far (the app's console.log lines among it). */
  output,
  /** Waits for a line of the output matching `re`; resolves with its match. */
  waitForOutput: (re, what = String(re), timeoutMs = 20_000) =>
    waitFor(`${what} in ${name}'s output`, () => output().match(re), timeoutMs, { observe: () => output().slice(-2000) }),
  ...(doRpcClient ? doRpcHelpers(url) : {}),
  stop,
})
