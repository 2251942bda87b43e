// Entry point of the browser tests: the example app (examples/web) in real headless Chromium,
// syncing through our Worker under `wrangler dev` (with JWT auth).
//
//   SKIP_BUILD=1        do not run `npm run build` (the Rust worker) first; build/ must exist
//   CHROMIUM_PATH=…     the browser to use (also CHROME_PATH); otherwise see findBrowser in support.mjs
//   E2E_KEEP_LOGS=1     keep the wrangler logs (in os.tmpdir())
//   UPDATE_README_SCREENSHOT=1   write docs/example-app.png (otherwise it goes to .artifacts/)
//
// It installs the example's packages if they are missing, type-checks and builds the app (tsc,
// `vite build`: some seconds), prints which browser runs, then runs tests/browser/*.test.mjs with node --test.
// A failing test leaves a screenshot and the console log of each of its pages in
// tests/browser/.artifacts/<test name>/. Extra arguments go to `node --test` (e.g. one file).
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { NODE_BIN as nodeBin, NPM as npm, REPO as repo, buildUnlessSkipped, requireBuild, requirePackages, runTests, sh } from '../support/runner.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const example = path.join(repo, 'examples/web')

requirePackages(['playwright-core', 'wrangler'], 'node_modules is missing or stale: run `npm ci` first')
if (!existsSync(path.join(example, 'node_modules/vite'))) {
  sh('npm ci (examples/web)', npm, ['ci', '--no-audit', '--no-fund'], { cwd: example })
}
buildUnlessSkipped()
requireBuild()

// the example's types (Vite only strips them), then the app, built without a default server URL:
// each test passes its Worker's URL as ?sync=
sh('tsc --noEmit (examples/web)', nodeBin, [path.join(example, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', example], { cwd: example })
rmSync(path.join(example, 'dist'), { recursive: true, force: true })
sh('vite build (examples/web)', nodeBin, [path.join(example, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
  cwd: example,
  env: { ...process.env, VITE_SYNC_URL: '' },
})

// which browser runs (the tests find it the same way)
const probe = spawnSync(
  nodeBin,
  [
    '--input-type=module',
    '-e',
    `import { launchBrowser } from ${JSON.stringify(path.join(here, 'support.mjs'))}
     const b = await launchBrowser(); console.log('> browser: ' + b.source + ', Chromium ' + b.version + ' (' + b.executablePath + ')'); await b.browser.close()`,
  ],
  { cwd: repo, stdio: 'inherit' },
)
if (probe.status !== 0) process.exit(probe.status || 1)

runTests('tests/browser', process.argv.slice(2))
