// Entry point of the end-to-end suite (`npm run test:e2e`).
//
//   E2E_TARGET=ours|ref  server the generic tests run against (default: ours)
//   E2E_STORAGE=do-sqlite|d1  where the servers keep event logs (default: do-sqlite)
//   SKIP_BUILD=1         do not run `npm run build` first (also skipped when E2E_TARGET=ref)
//   E2E_KEEP_LOGS=1      keep the wrangler logs (paths in os.tmpdir(), e2e-<kind>-<port>-*.log)
//   E2E_FORCE_OURS_ONLY=1  run the ours-only tests against the reference too (they should fail there)
//
// Extra arguments are passed to `node --test` (e.g. a single test file).
import { buildUnlessSkipped, requireBuild, requirePackages, runTests } from '../support/runner.mjs'

const target = process.env.E2E_TARGET ?? 'ours'
if (!['ours', 'ref'].includes(target)) {
  console.error(`E2E_TARGET must be 'ours' or 'ref', got '${target}'`)
  process.exit(2)
}

requirePackages(['wrangler'])

if (target === 'ours') {
  // the test build: it can inject the storage fault e2e 18 needs (a release build cannot)
  buildUnlessSkipped({ env: { CARGO_FEATURES: 'fault-injection' }, hint: 'set SKIP_BUILD=1 to use an existing build/' })
  requireBuild('build/index.js is missing: run `npm run build` (or E2E_TARGET=ref to validate against the reference)')
}

console.log(`> e2e target: ${target}, storage: ${process.env.E2E_STORAGE ?? 'do-sqlite'}`)
runTests('tests/e2e', process.argv.slice(2), { env: { ...process.env, E2E_TARGET: target } })
