// Shared helpers for the browser tests: find and launch headless Chromium (playwright-core), serve
// the example app (examples/web, built by run.mjs) with `vite preview`, start our Worker under
// `wrangler dev` with a JWT secret, mint tokens, read the server's event log, drive the app's page,
// and keep a screenshot + console log of every page of a failing test.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before } from 'node:test'

import { eventsOf, rawCollectPull, rawConnect } from '../e2e/harness.mjs'
import { mintHs256 } from '../../scripts/lib/hs256.mjs'
import { sleep, waitFor } from '../support/wait.mjs'
import { freePort, startServer } from '../support/wrangler-dev.mjs'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const EXAMPLE = path.join(REPO, 'examples/web')
export const ARTIFACTS = path.join(REPO, 'tests/browser/.artifacts')

/** The example's local development secret (examples/web/dev-token.ts), which the Worker gets too. */
export const DEV_SECRET = 'a-local-development-secret-of-32-chars'
/** Generous deadline for anything that has to converge (polled, never slept). */
export const CONVERGE_MS = 20_000


/**
 * Polls `fn` until it returns a truthy value (which is returned): tests/support/wait.mjs `waitFor`
 * with the browser tests' deadline (CONVERGE_MS) and a 100 ms interval (each poll reads a page).
 */
export const until = (what, fn, timeoutMs = CONVERGE_MS) => waitFor(what, fn, timeoutMs, { intervalMs: 100 })

// ---------------------------------------------------------------------------------------------
// Browser discovery and launch
// ---------------------------------------------------------------------------------------------

/** Flags this machine needs (closed network: no background connections; root: no sandbox). */
export const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * @sparticuz/chromium's flags are for a single-process Lambda; these must go:
 *  - --single-process: no SharedWorker and no OPFS access handles (LiveStore needs both)
 *  - --disable-web-security / --allow-running-insecure-content: CORS would not be checked, and the
 *    cross-origin test is there to see a real browser enforce it
 *  - --headless=…: playwright-core passes its own headless flag
 */
const SPARTICUZ_DROP = [/^--single-process$/, /^--disable-web-security$/, /^--allow-running-insecure-content$/, /^--headless(=|$)/]

/**
 * The browser to run, first found wins: $CHROMIUM_PATH, $CHROME_PATH; Playwright's own installed
 * Chromium; the npm package @sparticuz/chromium (a Chromium inside the package, unpacked to the temp
 * folder on first use); /usr/bin/chromium and the usual Google Chrome paths on Linux and macOS.
 * Returns {executablePath, args, source}.
 */
export const findBrowser = async () => {
  for (const name of ['CHROMIUM_PATH', 'CHROME_PATH']) {
    const p = process.env[name]
    if (p) {
      if (!existsSync(p)) throw new Error(`${name}=${p} does not exist`)
      return { executablePath: p, args: [], source: `$${name}` }
    }
  }
  const { chromium } = await import('playwright-core')
  try {
    const p = chromium.executablePath()
    if (p && existsSync(p)) return { executablePath: p, args: [], source: "Playwright's installed Chromium" }
  } catch {}
  try {
    const { default: sparticuz } = await import('@sparticuz/chromium')
    const p = await sparticuz.executablePath()
    if (p && existsSync(p)) {
      const args = sparticuz.args.filter((a) => !SPARTICUZ_DROP.some((re) => re.test(a)))
      return { executablePath: p, args, source: '@sparticuz/chromium' }
    }
  } catch {}
  for (const p of [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/opt/google/chrome/chrome',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ]) {
    if (existsSync(p)) return { executablePath: p, args: [], source: p }
  }
  throw new Error(
    'no Chromium found: set CHROMIUM_PATH, or `npm ci` (installs @sparticuz/chromium), or install chromium (apt-get install chromium)',
  )
}

/**
 * Launches headless Chromium. Playwright gives the browser a fresh, empty --user-data-dir of its own
 * (a temp folder it removes on close); every `newContext()` is a separate profile (its own OPFS,
 * SharedWorkers, storage): one "device" each. Returns {browser, version, source, executablePath}.
 */
export const launchBrowser = async () => {
  const { chromium } = await import('playwright-core')
  const found = await findBrowser()
  const browser = await chromium.launch({
    executablePath: found.executablePath,
    headless: true,
    args: [...new Set([...found.args, ...BASE_ARGS])],
  })
  return { browser, version: browser.version(), ...found }
}

// ---------------------------------------------------------------------------------------------
// Servers: our Worker with a JWT secret, the example app under `vite preview`
// ---------------------------------------------------------------------------------------------

/** The Worker's auth vars in every browser test (HS256 with the dev secret, store claim `stores`, read-only claim `readonly`). */
export const AUTH_VARS = { AUTH_MODE: 'jwt', JWT_SECRET: DEV_SECRET, JWT_STORE_CLAIM: 'stores', JWT_READONLY_CLAIM: 'readonly' }

/** Our Worker under `wrangler dev` (tests/support/wrangler-dev.mjs), with JWT auth. */
export const startSyncServer = ({ port, persistTo } = {}) =>
  startServer({ kind: 'ours', port, persistTo, env: AUTH_VARS, tag: 'browser', keepLogs: Boolean(process.env.E2E_KEEP_LOGS) })

const nodeBin = () => {
  const local = path.join(REPO, 'node_modules/node/bin/node')
  return existsSync(local) ? local : process.execPath
}

/**
 * Serves examples/web/dist (built by run.mjs) with `vite preview` on a free loopback port; the
 * preview server carries the example's dev token endpoint. Returns {url, port, stop()}.
 */
export const startApp = async ({ port } = {}) => {
  if (!existsSync(path.join(EXAMPLE, 'dist/index.html'))) {
    throw new Error('examples/web/dist is missing: run the browser tests through tests/browser/run.mjs (it builds the app)')
  }
  port ??= await freePort()
  const logFile = path.join(os.tmpdir(), `browser-app-${port}-${Date.now()}.log`)
  const fd = openSync(logFile, 'a')
  const child = spawn(nodeBin(), [path.join(EXAMPLE, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
    cwd: EXAMPLE,
    env: { ...process.env, DEV_JWT_SECRET: DEV_SECRET, NO_COLOR: '1' },
    stdio: ['ignore', fd, fd],
    detached: true,
  })
  closeSync(fd)
  let exited = false
  child.once('exit', () => (exited = true))
  const kill = (sig) => {
    try {
      process.kill(-child.pid, sig)
    } catch {}
  }
  const onExit = () => kill('SIGKILL')
  process.once('exit', onExit)
  const app = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: async () => {
      process.off('exit', onExit)
      if (exited) return
      kill('SIGTERM')
      for (let i = 0; i < 50 && !exited; i++) await sleep(50)
      if (!exited) kill('SIGKILL')
      rmSync(logFile, { force: true })
    },
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited) throw new Error(`vite preview exited early:\n${readFileSync(logFile, 'utf8')}`)
    try {
      const res = await fetch(`${app.url}/`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline) {
      await app.stop()
      throw new Error('vite preview did not answer within 30 s')
    }
    await sleep(100)
  }
  return app
}

// ---------------------------------------------------------------------------------------------
// Tokens and the server's event log
// ---------------------------------------------------------------------------------------------

const nowSec = () => Math.floor(Date.now() / 1000)

/** An HS256 JWT like the example's dev endpoint mints (`stores` claim), with overrides. */
export const mintToken = ({ storeId, ttl = 600, exp, stores = [storeId], secret = DEV_SECRET } = {}) => {
  const claims = { sub: 'browser-test', iat: nowSec(), exp: exp ?? nowSec() + ttl, stores }
  return mintHs256(claims, secret)
}

/**
 * Every event the server stores for `storeId`, read with a raw non-live pull over a fresh socket
 * (a valid token of our own): [{seqNum, parentSeqNum, name, args, clientId, sessionId}].
 */
export const serverEvents = async (server, storeId) => {
  const conn = await rawConnect(server, { storeId, payload: { authToken: mintToken({ storeId }) } })
  try {
    const { responses, exit } = await rawCollectPull(conn, { storeId })
    assert.equal(exit?._tag, 'Success', `raw pull of ${storeId}: ${JSON.stringify(exit)}`)
    return eventsOf(responses)
  } finally {
    await conn.close()
  }
}

/**
 * The server's log in words: a todoCreated event is its text, the others `completed: <text>`,
 * `uncompleted: <text>`, `deleted: <text>` (the todo named by the text it was created with).
 */
export const describeLog = (log) => {
  const textOf = new Map(log.filter((e) => e.name === 'v1.TodoCreated').map((e) => [e.args.id, e.args.text]))
  return log.map((e) => {
    if (e.name === 'v1.TodoCreated') return e.args.text
    const verb = { 'v1.TodoCompleted': 'completed', 'v1.TodoUncompleted': 'uncompleted', 'v1.TodoDeleted': 'deleted' }[e.name] ?? e.name
    return `${verb}: ${textOf.get(e.args.id) ?? e.args.id}`
  })
}

/**
 * Asserts the server's log is exactly `expected` (see describeLog), in that order, every event once:
 * seqNums 1..N, a contiguous parent chain, no todo created twice. Returns the raw events.
 */
export const assertServerLog = async (server, storeId, expected, what = 'server log') => {
  const log = await serverEvents(server, storeId)
  assert.deepEqual(describeLog(log), expected, `${what}: the events, in order, once each`)
  assert.deepEqual(
    log.map((e) => [e.seqNum, e.parentSeqNum]),
    log.map((_, i) => [i + 1, i]),
    `${what}: seqNums 1..N, each the child of the one before`,
  )
  const created = log.filter((e) => e.name === 'v1.TodoCreated').map((e) => e.args.id)
  assert.equal(new Set(created).size, created.length, `${what}: no todo created twice`)
  return log
}

/** Waits until the server's log is exactly `expected`, then asserts it fully (assertServerLog). */
export const waitServerLog = async (server, storeId, expected, what = 'server log') => {
  await until(`${what} = ${JSON.stringify(expected)}`, async () => JSON.stringify(describeLog(await serverEvents(server, storeId))) === JSON.stringify(expected))
  return assertServerLog(server, storeId, expected, what)
}

/**
 * The servers and the browser of one test file: our Worker (JWT auth), the example app under
 * `vite preview`, headless Chromium. Started in `before`, stopped in `after`; the returned object
 * is filled in by then.
 */
export const useStack = ({ ownPersistDir = false } = {}) => {
  const stack = {}
  // a folder of our own survives server.stop() (startServer removes the folders it made itself)
  const persistTo = ownPersistDir ? mkdtempSync(path.join(os.tmpdir(), 'browser-state-')) : undefined
  before(async () => {
    const [server, app, launched] = await Promise.all([startSyncServer({ persistTo }), startApp(), launchBrowser()])
    Object.assign(stack, { server, app, ...launched })
  })
  after(async () => {
    await stack.browser?.close().catch(() => {})
    await stack.app?.stop()
    await stack.server?.stop()
    if (persistTo) rmSync(persistTo, { recursive: true, force: true })
  })
  return stack
}

// ---------------------------------------------------------------------------------------------
// The app's page
// ---------------------------------------------------------------------------------------------

export const freshStoreId = (label) => `browser-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/**
 * Test context: every page opened through it is remembered, and when the test fails each gets a
 * screenshot and its console log in tests/browser/.artifacts/<test>/.
 */
export const makeRun = (t, browser) => {
  const pages = []
  const contexts = []
  const safe = (s) => s.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 80)
  return {
    pages,
    contexts,
    /** A new browser context: one user's device (its own profile: OPFS, SharedWorker, storage). */
    device: async () => {
      const context = await browser.newContext({ viewport: { width: 900, height: 700 } })
      contexts.push(context)
      return context
    },
    /** Opens the app in `context` (a fresh tab) and waits until its store booted. */
    open: async (context, { app, server, storeId, transport, ttl, role, label = `page${pages.length + 1}` }) => {
      const page = await context.newPage()
      const log = []
      const stamp = () => new Date().toISOString().slice(11, 23)
      page.on('console', (m) => log.push(`${stamp()} [${m.type()}] ${m.text()}`))
      page.on('pageerror', (e) => log.push(`${stamp()} [pageerror] ${e.stack ?? e.message}`))
      page.on('requestfailed', (r) => log.push(`${stamp()} [requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`))
      page.on('worker', (w) => {
        log.push(`${stamp()} [worker] started ${w.url()}`)
        w.on('close', () => log.push(`${stamp()} [worker] closed ${w.url()}`))
      })
      // the app asks before leaving with unpushed edits (LiveStore's confirmUnsavedChanges): leave
      page.on('dialog', (d) => {
        log.push(`${stamp()} [dialog] ${d.type()} ${d.message()}`)
        void d.accept()
      })
      const handle = { page, log, label, context }
      pages.push(handle)
      // no server: the app's default (the URL it was built or served with)
      const q = new URLSearchParams({ store: storeId, ...(server ? { sync: server.url } : {}) })
      if (transport) q.set('transport', transport)
      if (ttl) q.set('ttl', String(ttl))
      if (role) q.set('role', role)
      handle.url = `${app.url}/?${q}`
      await page.goto(handle.url)
      await waitReady(page)
      return page
    },
    /** Saves a screenshot and the console log of every page (called on failure). */
    saveArtifacts: async () => {
      const dir = path.join(ARTIFACTS, safe(t.name))
      mkdirSync(dir, { recursive: true })
      for (const { page, log, label } of pages) {
        try {
          if (!page.isClosed()) await page.screenshot({ path: path.join(dir, `${label}.png`), fullPage: true, timeout: 10_000 })
        } catch (e) {
          log.push(`(screenshot failed: ${e.message})`)
        }
        writeFileSync(path.join(dir, `${label}.console.log`), `${log.join('\n')}\n`)
      }
      return dir
    },
  }
}

/**
 * Runs a browser test body with a run context; on failure, saves the artifacts and says where.
 * Use as `test(name, (t) => withArtifacts(t, stack.browser, async (run) => { … }))`.
 */
export const withArtifacts = async (t, browser, body) => {
  const run = makeRun(t, browser)
  try {
    await body(run)
  } catch (e) {
    const dir = await run.saveArtifacts().catch((err) => `(saving artifacts failed: ${err.message})`)
    t.diagnostic(`artifacts: ${path.relative(REPO, dir)}`)
    throw e
  } finally {
    for (const context of run.contexts) await context.close().catch(() => {})
  }
}

/** Waits until the page rendered the app and its store booted (data-app="ready"). */
export const waitReady = async (page) => {
  await page.waitForSelector('html[data-app="ready"], html[data-app="error"]', { timeout: 60_000 })
  const state = await page.getAttribute('html', 'data-app')
  if (state !== 'ready') throw new Error(`the app failed to boot: ${await page.textContent('[data-testid="error"]')}`)
  assert.equal(await page.locator('h1').textContent(), 'todos', 'the app rendered')
  assert.ok(await page.locator('[data-testid="new-todo"]').isVisible(), 'the todo input is shown')
}

/** Adds a todo through the UI (types it and presses Enter) and waits until it is listed. */
export const addTodo = async (page, text) => {
  const before = (await todos(page)).length
  await page.fill('[data-testid="new-todo"]', text)
  await page.press('[data-testid="new-todo"]', 'Enter')
  await until(`"${text}" is listed`, async () => (await todos(page)).length === before + 1 && (await todos(page)).at(-1) === text)
}

/** The todo texts the page shows, in order. */
export const todos = (page) => page.locator('[data-testid="todo-text"]').allTextContents()

/** The todos the page shows with their state: ['text', …] with '✓ text' for completed ones. */
export const todosWithState = (page) =>
  page.locator('[data-testid="todo"]').evaluateAll((lis) => lis.map((li) => `${li.classList.contains('completed') ? '✓ ' : ''}${li.textContent.replace('×', '').trim()}`))

/** connected / offline / refused, as the page shows it. */
export const syncState = (page) => page.getAttribute('[data-testid="sync-state"]', 'data-state')

/** The page's count of local events not yet pushed (a number, NaN before the first update). */
export const pending = async (page) => Number(await page.getAttribute('[data-testid="pending"]', 'data-count'))

/** Waits until the page shows exactly `expected` (in order). */
export const waitTodos = (page, expected, what = 'page', timeoutMs = CONVERGE_MS) =>
  until(
    `${what} shows ${JSON.stringify(expected)}`,
    async () => {
      const now = await todos(page)
      return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined
    },
    timeoutMs,
  )

export const waitSyncState = (page, state, what = 'page', timeoutMs = CONVERGE_MS) =>
  until(`${what} shows sync state "${state}"`, async () => (await syncState(page)) === state, timeoutMs)

export const waitPending = (page, n, what = 'page', timeoutMs = CONVERGE_MS) =>
  until(`${what} shows ${n} not yet pushed`, async () => (await pending(page)) === n, timeoutMs)
