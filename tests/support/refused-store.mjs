// A real LiveStore store (@livestore/livestore + @livestore/adapter-node + the published
// makeWsSync) whose sync payload is refused, then reopened on the same local storage with a valid
// one: the "app before and after its user signs in" of tests/e2e/15-auth.test.mjs and the
// packed-package test (tests/package). Both use the shared schema (todo-schema.mjs).
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { makeAdapter } from '@livestore/adapter-node'
import { createStorePromise } from '@livestore/livestore'
import { makeWsSync } from '@livestore/sync-cf/client'
import { LogLevel } from 'effect'

import { schema } from './todo-schema.mjs'

export { allTodos, events } from './todo-schema.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(here, '../..')
const SCHEMA_URL = pathToFileURL(path.join(here, 'todo-schema.mjs')).href

/** The ids of the todos the refused store commits: 5 at once, then one more after its client retried. */
export const REFUSED_STORE_IDS = ['A-0', 'A-1', 'A-2', 'A-3', 'A-4', 'A-5']

/**
 * The "app before it has a valid payload": a store in its own Node process (fs storage in `dir`,
 * client `clientId`) whose every upgrade is refused commits 5 todos, waits until its client has
 * had an upgrade refused twice (it keeps retrying), commits one more, reports what its query shows
 * after each step, and exits. Resolves with `{ first, second, refusedUpgrades }`.
 *
 * A separate process because LiveStore 0.4.0 cannot shut such a store down cleanly: its shutdown
 * times out after 1 s and leaves the `livestore.shutdown.<storeId>` BroadcastChannel open, which
 * keeps the process alive and can shut down the next store instance of that storeId in the same
 * process. A restarted app process is also what a real app does.
 *
 * @param {{ url: string, storeId: string, dir: string, syncPayload: unknown, clientId?: string, timeoutMs?: number }} o
 */
export const runRefusedStore = ({ url, storeId, dir, syncPayload, clientId = 'client-A', timeoutMs = 30_000 }) =>
  new Promise((resolve, reject) => {
    const code = `
      import { makeAdapter } from '@livestore/adapter-node'
      import { createStorePromise } from '@livestore/livestore'
      import { makeWsSync } from '@livestore/sync-cf/client'
      import { LogLevel } from 'effect'
      import { WebSocket as WsWebSocket } from 'ws'
      const { allTodos, events, schema } = await import(${JSON.stringify(SCHEMA_URL)})
      // the published client builds its sockets from globalThis.WebSocket: count the refused ones
      // (failed before they ever opened)
      let refusedUpgrades = 0
      const Base = globalThis.WebSocket ?? WsWebSocket
      globalThis.WebSocket = class extends Base {
        constructor(...args) {
          super(...args)
          let opened = false
          let counted = false
          this.addEventListener('open', () => (opened = true))
          // (Node's WebSocket reports a refused upgrade as 'error', without a 'close')
          this.addEventListener('error', () => {
            if (!opened && !counted) refusedUpgrades++
            counted = true
          })
        }
      }
      const { STORE_ID, DIR, URL, PAYLOAD, CLIENT_ID } = process.env
      const store = await createStorePromise({
        schema, storeId: STORE_ID, disableDevtools: true, logLevel: LogLevel.None,
        syncPayload: JSON.parse(PAYLOAD),
        adapter: makeAdapter({ storage: { type: 'fs', baseDirectory: DIR }, clientId: CLIENT_ID,
          sync: { backend: makeWsSync({ url: URL }) } }),
      })
      for (let i = 0; i < 5; i++) store.commit(events.todoCreated({ id: 'A-' + i, text: 'offline todo ' + i, author: CLIENT_ID }))
      const first = store.query(allTodos)
      // not a pause: the condition that the client was refused and tried again
      while (refusedUpgrades < 2) await new Promise((r) => setTimeout(r, 50))
      store.commit(events.todoCreated({ id: 'A-5', text: 'still offline', author: CLIENT_ID }))
      const second = store.query(allTodos)
      console.log('RESULT ' + JSON.stringify({ first, second, refusedUpgrades }))
      await Promise.race([store.shutdownPromise().catch(() => {}), new Promise((r) => setTimeout(r, 2000))])
      process.exit(0)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      cwd: REPO,
      env: { ...process.env, STORE_ID: storeId, DIR: dir, URL: url, PAYLOAD: JSON.stringify(syncPayload ?? null), CLIENT_ID: clientId },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (code !== 0 || !line) return reject(new Error(`refused store process: exit ${code ?? signal}\n${out}\n${err.slice(-3000)}`))
      resolve(JSON.parse(line.slice('RESULT '.length)))
    })
  })

/**
 * A store in this process syncing over the published WebSocket client (`storage`: adapter-node's
 * `{ type: 'fs', baseDirectory }` or `{ type: 'in-memory' }`). Shut it down with `shutdownPromise()`.
 */
export const openStore = ({ url, storeId, clientId, syncPayload, storage }) =>
  createStorePromise({
    schema,
    storeId,
    disableDevtools: true,
    logLevel: LogLevel.Warning,
    syncPayload,
    adapter: makeAdapter({ storage, clientId, sync: { backend: makeWsSync({ url }) } }),
  })
