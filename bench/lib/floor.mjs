// The benchmark's floor object (bench/floor/): built on demand with the same offline worker-build
// settings as the server (scripts/build.sh), into bench/floor/build (gitignored), when the build is
// missing or its sources changed. Rust builds share the machine's 2 cores with other builds, so the
// build runs under `flock /tmp/rust-build.lock`, like every cargo/worker-build command here.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const FLOOR_DIR = path.join(REPO, 'bench/floor')
export const FLOOR_CONFIG = path.join(FLOOR_DIR, 'wrangler.toml')
const BUILD = path.join(FLOOR_DIR, 'build')
const STAMP = path.join(BUILD, '.source-hash')
const LOCK = '/tmp/rust-build.lock'

/** Hash of everything the build depends on: manifest, lockfile, sources. */
const sourceHash = () => {
  const h = createHash('sha256')
  const files = ['Cargo.toml', 'Cargo.lock', ...readdirSync(path.join(FLOOR_DIR, 'src')).map((f) => `src/${f}`)]
  for (const f of files.sort()) {
    const p = path.join(FLOOR_DIR, f)
    if (!existsSync(p)) continue
    h.update(f).update('\0').update(readFileSync(p)).update('\0')
  }
  return h.digest('hex')
}

/** Why the floor needs a build ('missing', 'stale'), or undefined if build/ is current. */
export const floorBuildNeeded = () => {
  if (!existsSync(path.join(BUILD, 'index.js')) || !existsSync(path.join(BUILD, 'index_bg.wasm'))) return 'missing'
  try {
    if (readFileSync(STAMP, 'utf8').trim() !== sourceHash()) return 'stale'
  } catch {
    return 'stale'
  }
  return undefined
}

/**
 * Builds the floor if needed (blocking; about a minute cold on 2 cores, plus the wait for the lock).
 * Returns {built: boolean, reason?, seconds?}. Throws with the build's output on failure.
 */
export const ensureFloorBuild = ({ log = () => {} } = {}) => {
  const reason = floorBuildNeeded()
  if (!reason) return { built: false }
  const home = os.homedir()
  const workerBuild = process.env.WORKER_BUILD_BIN ?? path.join(home, '.cargo/bin/worker-build')
  const env = {
    ...process.env,
    WASM_BINDGEN_BIN: process.env.WASM_BINDGEN_BIN ?? path.join(home, '.cargo/bin/wasm-bindgen'),
    WASM_OPT_BIN: process.env.WASM_OPT_BIN ?? path.join(REPO, 'node_modules/binaryen/bin/wasm-opt'),
    ESBUILD_BIN: process.env.ESBUILD_BIN ?? path.join(REPO, 'node_modules/@esbuild/linux-x64/bin/esbuild'),
    CARGO_TARGET_DIR: path.join(FLOOR_DIR, 'target'),
  }
  for (const k of ['WASM_BINDGEN_BIN', 'WASM_OPT_BIN', 'ESBUILD_BIN']) {
    if (!existsSync(env[k])) throw new Error(`floor build: ${k}=${env[k]} does not exist (see /work/shared/TOOLCHAIN.md)`)
  }
  log(`building the floor object (bench/floor, ${reason}) under flock ${LOCK} ...`)
  const t0 = performance.now()
  const r = spawnSync('flock', [LOCK, workerBuild, '--release'], { cwd: FLOOR_DIR, env, encoding: 'utf8', maxBuffer: 64 << 20 })
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) {
    throw new Error(`floor build failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${(r.stdout + r.stderr).split('\n').slice(-40).join('\n')}`)
  }
  writeFileSync(STAMP, sourceHash() + '\n')
  log(`floor built in ${seconds.toFixed(0)} s (${(statSync(path.join(BUILD, 'index_bg.wasm')).size / 1024).toFixed(0)} KB wasm)`)
  return { built: true, reason, seconds }
}
