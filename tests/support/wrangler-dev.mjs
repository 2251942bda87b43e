// Starts and stops a sync server under local `wrangler dev` (workerd): ours (the Rust worker in
// build/), ref (the published @livestore/sync-cf@0.4.0 in tests/reference/), floor (the
// benchmark's minimal Durable Object in bench/floor/build, see bench/lib/floor.mjs) or app (an app
// Worker in a folder of its own, e.g. one with the packed package installed). Shared by the
// e2e harness and the benchmark, so it holds process handling only (no test framework, no client).
import { spawn } from 'node:child_process'
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The wrangler.toml each server kind is started from (ours runs from a private copy, see below). */
export const SOURCE_CONFIG = {
  ours: path.join(REPO, 'wrangler.toml'),
  ref: path.join(REPO, 'tests/reference/wrangler.toml'),
  floor: path.join(REPO, 'bench/floor/wrangler.toml'),
}

/** The reference with its D1 storage option (`tests/reference/worker-d1.ts`). */
export const REF_D1_CONFIG = path.join(REPO, 'tests/reference/wrangler-d1.toml')

/**
 * The local D1 database both servers use with `d1: true`: the same binding name, database name and
 * id as tests/reference/wrangler-d1.toml, so that a store written by one is read by the other.
 */
export const D1_BINDING_TOML = ['', '[[d1_databases]]', 'binding = "DB"', 'database_name = "livestore-sync"', 'database_id = "livestore-sync-local"', ''].join('\n')

/** Environment that keeps wrangler quiet and offline, local observability off (see shared TOOLCHAIN.md). */
export const QUIET_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  DO_NOT_TRACK: '1',
  X_LOCAL_OBSERVABILITY: 'false',
  X_LOCAL_EXPLORER: 'false',
  NO_COLOR: '1',
}

const READY_TIMEOUT_MS = 120_000 // the reference (esbuild bundle + nodejs_compat) is slow to start on 2 cores

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a tiny race until wrangler binds it). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })

// ---------------------------------------------------------------------------------------------
// Process groups: wrangler runs detached in its own group, so one signal reaches its workerd too
// ---------------------------------------------------------------------------------------------

/**
 * True while a live member of process group `pgid` exists. Zombies do not count: a workerd that
 * exited but was not reaped yet would otherwise look alive. Off Linux: kill(-pgid, 0).
 */
const groupAlive = (pgid) => {
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue
      let stat
      try {
        stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      } catch {
        continue
      }
      // pid (comm) state ppid pgrp ...  — comm may contain spaces/parens: parse after the last ')'
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true
    }
    return false
  } catch {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  }
}

/** Signals a whole process group; false if it is already gone. */
const killGroup = (pgid, signal) => {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/**
 * Stops process group `pgid` (`signal` first, SIGKILL when it does not go in 5 s) and resolves
 * once no live member is left; throws if one still is. Also used by the packed-package test.
 */
export const stopGroup = async (pgid, signal = 'SIGTERM') => {
  killGroup(pgid, signal)
  for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50)
  if (groupAlive(pgid)) killGroup(pgid, 'SIGKILL')
  // workerd children may outlive wrangler's own exit for a moment: make sure the group is gone.
  for (let i = 0; i < 100 && groupAlive(pgid); i++) {
    if (i === 20) killGroup(pgid, 'SIGKILL')
    await sleep(50)
  }
  if (groupAlive(pgid)) throw new Error(`process group ${pgid} did not stop`)
}

/** SIGKILLs process group `pgid` at once (an exit handler's last resort); false if it is gone. */
export const killGroupNow = (pgid) => killGroup(pgid, 'SIGKILL')

// Servers not stopped yet, and temp folders not removed yet, for the exit cleanup.
const running = new Set()
const tempDirs = new Set()
let cleanupInstalled = false

/** Last resort: never leave wrangler/workerd or their temp folders behind, whatever ends this process. */
const installExitCleanup = () => {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', () => {
    for (const s of running) killGroup(s.pid, 'SIGKILL')
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
  })
  // a signal would end the process without 'exit': turn it into an exit so the handler above runs
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => process.exit(128 + (os.constants.signals[sig] ?? 2)))
  }
}

const tempDir = (prefix) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

const removeTempDir = (dir) => {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/** `text` (a wrangler.toml) with `vars` added to its [vars] table (created if missing). */
const withVars = (text, vars) => {
  const lines = Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`)
  const at = text.split('\n').findIndex((l) => /^\s*\[vars\]\s*(#.*)?$/.test(l))
  if (at < 0) return `${text}\n\n[vars]\n${lines.join('\n')}\n`
  const all = text.split('\n')
  // a later assignment of the same key in one table is a TOML error: drop the old ones
  const keys = new Set(Object.keys(vars))
  let end = at + 1
  while (end < all.length && !/^\s*\[/.test(all[end])) end++
  const kept = all.slice(at + 1, end).filter((l) => !keys.has(l.split('=')[0].trim()))
  return [...all.slice(0, at + 1), ...lines, ...kept, ...all.slice(end)].join('\n')
}

/**
 * A private copy of a build/ folder plus a wrangler.toml for it without the [build] table(s):
 * wrangler dev re-runs the custom build and reloads the worker (dropping every socket with 1006)
 * when a file under src/ or its entry module changes, so a running server must not see a rebuild.
 * `kind` 'ours' copies build/ and wrangler.toml; 'floor' copies bench/floor/build and its config.
 * Returns the config path; its folder is the snapshot.
 */
const snapshotBuild = (prefix, { kind = 'ours', d1 = false, entry, meteredEntry } = {}) => {
  const dir = tempDir(prefix)
  const sourceConfig = SOURCE_CONFIG[kind]
  const root = path.dirname(sourceConfig)
  cpSync(path.join(root, 'build'), path.join(dir, 'build'), { recursive: true })
  const text = readFileSync(sourceConfig, 'utf8')
  // the entry module: the config's `main`, or `entry`; an entry outside build/ (js/entry.mjs,
  // which imports ../build/index.js) is copied with its folder
  const main = entry ?? text.match(/^\s*main\s*=\s*"([^"]+)"/m)?.[1] ?? 'build/index.js'
  const top = path.normalize(main).split(path.sep)[0]
  if (top !== 'build') cpSync(path.join(root, top), path.join(dir, top), { recursive: true })
  // the benchmark's metering wrapper (bench/usage): its folder is copied as `usage/`, and its file
  // becomes the entry (it imports the real entry relative to the snapshot, e.g. ../js/entry.mjs)
  let finalMain = main
  if (meteredEntry) {
    cpSync(path.dirname(meteredEntry), path.join(dir, 'usage'), { recursive: true })
    finalMain = path.join('usage', path.basename(meteredEntry))
  }
  const out = []
  let skipping = false
  for (const line of text.split('\n')) {
    const header = line.match(/^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/)
    if (header) skipping = header[1] === 'build' || header[1].startsWith('build.')
    if (skipping) continue
    out.push(/^\s*main\s*=/.test(line) ? `main = ${JSON.stringify(path.join(dir, finalMain))}` : line)
  }
  const config = path.join(dir, 'wrangler.toml')
  writeFileSync(config, out.join('\n') + (d1 ? D1_BINDING_TOML : ''))
  return config
}

/**
 * A copy of the wrangler config `src` in a fresh temp folder, with `main` made absolute (it is
 * relative to the config's folder) and `patch(text)` applied. Returns the copy's path.
 */
const patchedConfigCopy = (src, patch, prefix) => {
  const dir = tempDir(prefix)
  const text = readFileSync(src, 'utf8')
    .split('\n')
    .map((line) => {
      const m = line.match(/^\s*main\s*=\s*"([^"]+)"/)
      return m ? `main = ${JSON.stringify(path.resolve(path.dirname(src), m[1]))}` : line
    })
    .join('\n')
  const config = path.join(dir, 'wrangler.toml')
  writeFileSync(config, patch(text))
  return config
}

/** Node 22 binary from the `node` devDependency (wrangler refuses Node 20), else the current one. */
const nodeBin = () => {
  const local = path.join(REPO, 'node_modules/node/bin/node')
  return existsSync(local) ? local : process.execPath
}

const tail = (file, n = 40) => {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * Starts a sync server under `wrangler dev` and waits until `GET /` answers 200.
 *
 * @param {object} o
 * @param {'ours'|'ref'|'floor'|'app'} o.kind  (floor: build it first, bench/lib/floor.mjs; app:
 *   `config` names the app's wrangler.toml, run in place by this repository's wrangler)
 * @param {string} [o.config] ref: another wrangler.toml for the reference (the benchmark's
 *   bench/reference/wrangler.toml, which logs one line per object instance); app: the app's one
 * @param {number} [o.port] defaults to a free port
 * @param {string} [o.persistTo] --persist-to folder; defaults to a fresh temp folder (removed on stop)
 * @param {Record<string,string>} [o.env] worker vars, passed as `--var KEY:VALUE`
 * @param {boolean} [o.keepLogs] keep the log file after stop (also `server.keepLogs = true` later)
 * @param {string} [o.tag] prefix of the temp folder and log names (who started the server)
 * @param {boolean} [o.d1] give the server the local D1 database (ours: binding DB, to be used with
 *   the var STORAGE=d1; ref: the reference's D1 option)
 * @param {string} [o.sourceConfig] ref and app: another wrangler.toml for the server (e.g. a tracing variant)
 * @param {string[]} [o.primaryConfigs] configs of other workers run in the same `wrangler dev` BEFORE
 *   the server's (`-c a -c b -c server`): the first one is the worker served on `port` (wrangler dev
 *   exposes only its primary worker) and must answer `GET /` with 200 itself or by forwarding to the
 *   server; the others are reachable through bindings only. Worker vars (`env`) then go into the
 *   server's config as a [vars] table instead of `--var` (not checked to reach a non-primary worker).
 * @param {(text: string) => string} [o.patchServerConfig] edits the text of (a copy of) the server's
 *   config, e.g. to add bindings to the other workers
 * @param {string} [o.meteredEntry] ours and floor (benchmark): absolute path of a wrapper entry in
 *   bench/usage/ that meters the Durable Object (see bench/usage/meter.mjs)
 * @param {string} [o.ourEntry] ours only: the entry module instead of the config's `main`, relative
 *   to the repository (e.g. js/entry.mjs, which imports ../build/index.js)
 * @returns {Promise<{url:string, wsUrl:string, port:number, persistTo:string, pid:number, kind:string, logFile:string, keepLogs:boolean, stop:(o?: {signal?: NodeJS.Signals}) => Promise<void>}>}
 */
export const startServer = async ({
  kind,
  port,
  persistTo,
  env = {},
  keepLogs = false,
  tag = 'wrangler',
  d1 = false,
  config: refConfig,
  sourceConfig = refConfig,
  primaryConfigs = [],
  patchServerConfig,
  ourEntry,
  meteredEntry,
} = {}) => {
  if (!SOURCE_CONFIG[kind] && kind !== 'app') throw new Error(`unknown server kind ${kind}`)
  if (sourceConfig !== undefined && kind !== 'ref' && kind !== 'app') throw new Error('sourceConfig (config) is for the ref and app kinds only')
  if (kind === 'app' && (sourceConfig === undefined || !existsSync(sourceConfig))) throw new Error(`app: its wrangler.toml (config) is missing: ${sourceConfig}`)
  if (kind === 'ours' && !existsSync(path.join(REPO, 'build/index.js'))) {
    throw new Error('build/index.js is missing: build the Rust worker first (npm run build)')
  }
  if (kind === 'floor' && !existsSync(path.join(REPO, 'bench/floor/build/index.js'))) {
    throw new Error('bench/floor/build/index.js is missing: build the floor first (bench/lib/floor.mjs)')
  }
  installExitCleanup()
  port ??= await freePort()
  const inspectorPort = await freePort()
  const ownDir = persistTo === undefined
  if (ownDir) persistTo = tempDir(`${tag}-${kind}-state-`)
  const logFile = path.join(os.tmpdir(), `${tag}-${kind}-${port}-${Date.now()}.log`)
  const multi = primaryConfigs.length > 0
  // with other workers in the process, vars go into the server's own config (see above)
  const patch = (text) => {
    let out = patchServerConfig ? patchServerConfig(text) : text
    if (multi && Object.keys(env).length > 0) out = withVars(out, env)
    return out
  }
  const needsCopy = multi || patchServerConfig !== undefined
  let config
  let configDir // temp folder holding the config copy, removed on stop
  if (kind === 'ours' || kind === 'floor') {
    config = snapshotBuild(`${tag}-${kind}-build-`, { kind, d1, entry: kind === 'ours' ? ourEntry : undefined, meteredEntry })
    configDir = path.dirname(config)
    if (needsCopy) writeFileSync(config, patch(readFileSync(config, 'utf8')))
  } else if (needsCopy) {
    config = patchedConfigCopy(sourceConfig ?? (d1 ? REF_D1_CONFIG : SOURCE_CONFIG.ref), patch, `${tag}-ref-config-`)
    configDir = path.dirname(config)
  } else {
    config = sourceConfig ?? (d1 ? REF_D1_CONFIG : SOURCE_CONFIG.ref)
  }
  const args = [
    path.join(REPO, 'node_modules/wrangler/bin/wrangler.js'),
    'dev',
    ...primaryConfigs.flatMap((c) => ['--config', c]),
    '--config',
    config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--inspector-ip',
    '127.0.0.1',
    '--persist-to',
    persistTo,
    '--show-interactive-dev-session=false',
    ...(multi
      ? []
      : Object.entries(env)
          .filter(([, v]) => v !== undefined)
          .flatMap(([k, v]) => ['--var', `${k}:${v}`])),
  ]
  const fd = openSync(logFile, 'a')
  const child = spawn(nodeBin(), args, {
    cwd: REPO,
    // SKIP_BUILD: belt and braces, scripts/build.sh must never run from here
    env: { ...process.env, ...QUIET_ENV, SKIP_BUILD: '1' },
    stdio: ['ignore', fd, fd],
    detached: true, // own process group: stop() signals wrangler and its workerd children together
  })
  closeSync(fd)
  let exitInfo
  child.once('exit', (code, signal) => (exitInfo = { code, signal }))

  const server = {
    kind,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    persistTo,
    pid: child.pid,
    logFile,
    keepLogs,
    /** Stops the server; `{signal: 'SIGKILL'}` kills it abruptly (a crash) instead of SIGTERM. */
    stop: async ({ signal = 'SIGTERM' } = {}) => {
      if (!running.has(server)) return
      running.delete(server)
      await stopGroup(child.pid, signal).catch((e) => {
        throw new Error(`${kind}: server ${e.message}`)
      })
      if (ownDir) removeTempDir(persistTo)
      if (configDir !== undefined) removeTempDir(configDir)
      if (!server.keepLogs) rmSync(logFile, { force: true })
    },
  }
  running.add(server)

  // the log is read before stop(), which removes it
  const fail = async (why) => {
    const log = tail(logFile)
    await server.stop()
    throw new Error(`wrangler dev (${kind}) ${why}. Log:\n${log}`)
  }
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    // a broken config or worker makes wrangler exit at once: report that instead of waiting it out
    if (exitInfo) await fail(`exited early (code ${exitInfo.code}, signal ${exitInfo.signal})`)
    try {
      const res = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) await fail(`did not answer GET / within ${READY_TIMEOUT_MS / 1000} s`)
    await sleep(200)
  }
  return server
}
