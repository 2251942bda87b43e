// What the e2e runner (tests/e2e/run.mjs) and the browser runner (tests/browser/run.mjs) share:
// the Node binary, the node_modules check, the build step, and running the test files with
// `node --test`.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

// Node 22 from the `node` devDependency, else this one: the tests need its fetch (on Node 20 the
// userland undici of node_modules becomes fetch's dispatcher and refuses the published HTTP
// client's requests), and wrangler and @sparticuz/chromium want it
const node22 = path.join(REPO, 'node_modules/node/bin/node')
export const NODE_BIN = existsSync(node22) ? node22 : process.execPath

/** Exits (2) with `message` unless every one of `packages` is in node_modules. */
export const requirePackages = (packages, message = 'node_modules is missing: run `npm ci` first') => {
  if (packages.some((p) => !existsSync(path.join(REPO, 'node_modules', p)))) {
    console.error(message)
    process.exit(2)
  }
}

/** Runs `what` (prints `> what`); exits with its status if it fails, after `hint` if given. */
export const sh = (what, cmd, args, { hint, ...opts } = {}) => {
  console.log(`> ${what}`)
  const res = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (res.status !== 0) {
    console.error(`${what} failed (exit ${res.status ?? res.signal})${hint ? `; ${hint}` : ''}`)
    process.exit(res.status || 1)
  }
}

/** `npm run build` (the Rust worker into build/) unless SKIP_BUILD is set; `env` is added to the environment. */
export const buildUnlessSkipped = ({ env = {}, hint } = {}) => {
  if (process.env.SKIP_BUILD) return
  sh('npm run build', NPM, ['run', 'build'], { cwd: REPO, env: { ...process.env, ...env }, hint })
}

/** Exits (2) with `message` unless build/index.js exists. */
export const requireBuild = (message = 'build/index.js is missing: run `npm run build`') => {
  if (!existsSync(path.join(REPO, 'build/index.js'))) {
    console.error(message)
    process.exit(2)
  }
}

/**
 * Runs `node --test` one file at a time with a per-test deadline (so a hang fails instead of
 * blocking): the files named in `args` (which may also carry `node --test` options), or, if none
 * is named, every *.test.mjs of `dir` (relative to the repository). Exits with its status.
 */
export const runTests = (dir, args, { env = process.env } = {}) => {
  const files =
    args.filter((a) => !a.startsWith('-')).length > 0
      ? []
      : readdirSync(path.join(REPO, dir))
          .filter((f) => f.endsWith('.test.mjs'))
          .sort()
          .map((f) => path.join(dir, f))
  const res = spawnSync(NODE_BIN, ['--test', '--test-concurrency=1', '--test-timeout=180000', ...args, ...files], {
    cwd: REPO,
    stdio: 'inherit',
    env,
  })
  process.exit(res.status ?? 1)
}
