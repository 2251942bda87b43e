// `npm run example` (scripts/example.mjs): starts our Worker with JWT auth and the app under Vite's
// dev server, prints the URL; the app opened at that URL (no ?sync: the URL the script gave Vite)
// gets a token from the dev endpoint and syncs between two devices; Ctrl-C (SIGINT) stops both.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { freePort } from '../support/wrangler-dev.mjs'
import { REPO, addTodo, launchBrowser, until, waitReady, waitServerLog, waitSyncState, waitTodos, withArtifacts } from './support.mjs'

let browser
let example
let output = ''
const state = mkdtempSync(path.join(os.tmpdir(), 'browser-example-state-'))

before(async () => {
  ;({ browser } = await launchBrowser())
})
after(async () => {
  if (example && example.exitCode === null) example.kill('SIGKILL')
  await browser?.close().catch(() => {})
  rmSync(state, { recursive: true, force: true })
})

test('npm run example: serves the app, which syncs between two devices; Ctrl-C stops everything', (t) =>
  withArtifacts(t, browser, async (run) => {
    const [syncPort, appPort] = [await freePort(), await freePort()]
    const node22 = path.join(REPO, 'node_modules/node/bin/node')
    example = spawn(node22, [path.join(REPO, 'scripts/example.mjs')], {
      cwd: REPO,
      env: { ...process.env, EXAMPLE_SYNC_PORT: String(syncPort), EXAMPLE_APP_PORT: String(appPort), EXAMPLE_STATE: state },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    example.stdout.on('data', (d) => (output += d))
    example.stderr.on('data', (d) => (output += d))
    const exited = new Promise((resolve) => example.once('exit', (code, signal) => resolve({ code, signal })))
    try {
      const url = await until('the script prints the app URL', () => output.match(/Example app: (http:\/\/\S+)/)?.[1], 120_000)
      assert.equal(url, `http://127.0.0.1:${appPort}/`)

      // the page as a developer opens it (Vite's dev server: the first load is slow, it bundles deps)
      const storeId = `example-${Date.now().toString(36)}`
      const open = async (label) => run.open(await run.device(), { app: { url: url.replace(/\/$/, '') }, storeId, label })
      const a = await open('A')
      const b = await open('B')
      assert.match(await a.textContent('[data-testid="info"]'), new RegExp(`makeWsSync · http://127.0.0.1:${syncPort}$`))
      await waitSyncState(a, 'connected', 'A')
      await waitSyncState(b, 'connected', 'B')
      await addTodo(a, 'from npm run example')
      await waitTodos(b, ['from npm run example'], 'B')
      await waitServerLog({ url: `http://127.0.0.1:${syncPort}`, wsUrl: `ws://127.0.0.1:${syncPort}` }, storeId, ['from npm run example'])

      // Ctrl-C
      example.kill('SIGINT')
      const { code } = await exited
      assert.equal(code, 0, output.slice(-2000))
      for (const port of [syncPort, appPort]) {
        await assert.rejects(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }), `nothing listens on ${port} any more`)
      }
    } catch (e) {
      t.diagnostic(`npm run example output:\n${output.slice(-3000)}`)
      throw e
    }
  }))
