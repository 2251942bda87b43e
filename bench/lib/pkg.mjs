// The app folders of the benchmark's `pkg` and `pkg-hooks` servers: the packed package installed
// as an app installs it (`npm install <tarball>` into a folder outside the repository), beside an
// app Worker (bench/apps/pkg.mjs or pkg-hooks.mjs as worker.mjs, with bench/apps/hooks.mjs and
// bench/usage/meter.mjs) and its wrangler.toml. The servers then run under this repository's
// wrangler (tests/support/wrangler-dev.mjs, kind `app`).
//
// The tarball is `--pkg-tarball`, or made here the way `npm pack` makes it (package.json `files`,
// build/ as it is) but WITHOUT the prepack build: the benchmark never builds. Symlinks are followed
// (in a git worktree build/ may be one, which `npm pack` would leave out).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const REPO = path.resolve(BENCH, '..')

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')

const folders = new Set()
let cleanupInstalled = false
const tempFolder = (prefix) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  folders.add(dir)
  if (!cleanupInstalled) {
    cleanupInstalled = true
    process.on('exit', () => {
      for (const d of folders) rmSync(d, { recursive: true, force: true })
    })
  }
  return dir
}

/** A tarball of the repository's package as `npm pack` makes it, without its prepack build. */
const packRepository = (work) => {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'))
  const src = path.join(work, 'package-src')
  mkdirSync(src)
  for (const f of ['package.json', ...pkg.files]) {
    if (!existsSync(path.join(REPO, f))) throw new Error(`${f} is missing: build the Rust worker first (npm run build), or pass --pkg-tarball`)
    cpSync(path.join(REPO, f), path.join(src, f), { recursive: true, dereference: true })
  }
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: src, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return path.join(work, JSON.parse(out)[0].filename)
}

/**
 * Prepares one app folder per name of `apps` (`pkg`, `pkg-hooks`). Returns {tarball, packed,
 * wasmSha256, buildWasmSha256, configs: {name: wrangler.toml path}, remove()}.
 */
export const preparePkgApps = ({ apps, tarball, log = () => {} }) => {
  const work = tempFolder('bench-pkg-')
  const packed = tarball === undefined
  if (packed) {
    tarball = packRepository(work)
    log(`packed the repository's package (build/ as it is, no prepack build): ${path.basename(tarball)}`)
  } else {
    tarball = path.resolve(tarball)
    if (!existsSync(tarball)) throw new Error(`--pkg-tarball ${tarball} does not exist`)
  }
  const configs = {}
  let wasmSha256
  for (const name of apps) {
    const dir = path.join(work, name)
    mkdirSync(path.join(dir, 'usage'), { recursive: true })
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `bench-app-${name}`, private: true, type: 'module' }, null, 2))
    // no dependency but the tarball itself (effect is an optional peer): nothing is downloaded
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-package-lock', tarball], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    cpSync(path.join(BENCH, 'apps', `${name}.mjs`), path.join(dir, 'worker.mjs'))
    cpSync(path.join(BENCH, 'apps', 'hooks.mjs'), path.join(dir, 'hooks.mjs'))
    cpSync(path.join(BENCH, 'usage', 'meter.mjs'), path.join(dir, 'usage', 'meter.mjs'))
    cpSync(path.join(BENCH, 'apps', 'wrangler.toml'), path.join(dir, 'wrangler.toml'))
    configs[name] = path.join(dir, 'wrangler.toml')
    wasmSha256 = sha256(path.join(dir, 'node_modules/livestore-sync-rs/build/index_bg.wasm'))
  }
  const buildWasm = path.join(REPO, 'build/index_bg.wasm')
  return {
    tarball,
    packed,
    wasmSha256,
    buildWasmSha256: existsSync(buildWasm) ? sha256(buildWasm) : undefined,
    configs,
    remove: () => {
      rmSync(work, { recursive: true, force: true })
      folders.delete(work)
    },
  }
}
