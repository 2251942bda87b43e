// Entry point of the end-to-end suite (`npm run test:e2e`).
//
//   E2E_TARGET=ours|ref  server the generic tests run against (default: ours)
//   E2E_STORAGE=do-sqlite|d1  where the servers keep event logs (default: do-sqlite)
//   SKIP_BUILD=1         do not run `npm run build` first (also skipped when E2E_TARGET=ref)
//   E2E_KEEP_LOGS=1      keep the wrangler logs (paths in os.tmpdir(), e2e-<kind>-<port>-*.log)
//   E2E_FORCE_OURS_ONLY=1  run the ours-only tests against the reference too (they should fail there)
//
// Extra arguments are passed to `node --test` (e.g. a single test file).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const target = process.env.E2E_TARGET ?? 'ours'
if (!['ours', 'ref'].includes(target)) {
  console.error(`E2E_TARGET must be 'ours' or 'ref', got '${target}'`)
  process.exit(2)
}

if (!existsSync(path.join(repo, 'node_modules/wrangler'))) {
  console.error('node_modules is missing: run `npm ci` first')
  process.exit(2)
}

if (target === 'ours' && !process.env.SKIP_BUILD) {
  console.log('> npm run build')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  // the test build: it can inject the storage fault e2e 18 needs (a release build cannot)
  const env = { ...process.env, CARGO_FEATURES: 'fault-injection' }
  const build = spawnSync(npm, ['run', 'build'], { cwd: repo, stdio: 'inherit', env })
  if (build.status !== 0) {
    console.error(`npm run build failed (exit ${build.status ?? build.signal}); set SKIP_BUILD=1 to use an existing build/`)
    process.exit(build.status || 1)
  }
}
if (target === 'ours' && !existsSync(path.join(repo, 'build/index.js'))) {
  console.error('build/index.js is missing: run `npm run build` (or E2E_TARGET=ref to validate against the reference)')
  process.exit(2)
}

const args = process.argv.slice(2)
const files =
  args.filter((a) => !a.startsWith('-')).length > 0
    ? []
    : readdirSync(here)
        .filter((f) => f.endsWith('.test.mjs'))
        .sort()
        .map((f) => path.join('tests/e2e', f))

// Node 22 from the `node` devDependency: the tests need its fetch (on Node 20 the userland undici of
// node_modules becomes fetch's dispatcher and refuses the published HTTP client's requests)
const node22 = path.join(repo, 'node_modules/node/bin/node')
const nodeBin = existsSync(node22) ? node22 : process.execPath

console.log(`> e2e target: ${target}, storage: ${process.env.E2E_STORAGE ?? 'do-sqlite'}`)
// a per-test deadline so a hang (e.g. a client retrying a refused upgrade forever) fails instead of blocking
const res = spawnSync(nodeBin, ['--test', '--test-concurrency=1', '--test-timeout=180000', ...args, ...files], {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, E2E_TARGET: target },
})
process.exit(res.status ?? 1)
