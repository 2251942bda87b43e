// A TodoMVC-style LiveStore app that syncs through the Rust sync backend. Plain DOM, no framework.
//
// URL parameters (all optional):
//   store=<id>        storeId (default "todos"); the dev token is issued for this store only
//   transport=http    sync with makeHttpSync instead of makeWsSync
//   sync=<url>        sync server URL (default: VITE_SYNC_URL at build time, else http://127.0.0.1:8787)
//   ttl=<seconds>     lifetime of the tokens this page asks for (default 300)
//   role=viewer       sign in read-only (the token's `readonly` claim): the todos show live, nothing
//                     can be edited; "Sign in as editor" switches
import { makePersistedAdapter } from '@livestore/adapter-web'
import LiveStoreSharedWorker from '@livestore/adapter-web/shared-worker?sharedworker'
import { StoreInternalsSymbol, createStorePromise } from '@livestore/livestore'
import type { Store } from '@livestore/livestore'
import { Effect, Fiber, Stream } from 'effect'

import leaderWorkerUrl from './livestore.worker.ts?worker&url'
import { SyncPayload, events, schema, visibleTodos$ } from './schema.ts'
import { SOCKET_CLOSE_CHANNEL, type SocketClose } from './socket-close.ts'

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search)
const storeId = params.get('store') ?? 'todos'
const transport = params.get('transport') === 'http' ? 'http' : 'ws'
const syncUrl = (params.get('sync') || import.meta.env.VITE_SYNC_URL || 'http://127.0.0.1:8787').replace(/\/+$/, '')
const ttl = params.get('ttl')
let role: 'editor' | 'viewer' = params.get('role') === 'viewer' ? 'viewer' : 'editor'

const $ = <T extends HTMLElement>(testId: string) => document.querySelector<T>(`[data-testid="${testId}"]`)!
const ui = {
  syncState: $('sync-state'),
  syncDetail: $('sync-detail'),
  serverClose: $('server-close'),
  pending: $('pending'),
  tokenExpiry: $('token-expiry'),
  signIn: $<HTMLButtonElement>('sign-in'),
  signInAs: $<HTMLButtonElement>('sign-in-as'),
  access: $('access'),
  newTodo: $<HTMLInputElement>('new-todo'),
  form: $<HTMLFormElement>('new-todo-form'),
  list: $<HTMLUListElement>('todo-list'),
  count: $('todo-count'),
  info: $('info'),
  error: $('error'),
}
ui.info.textContent = `store ${storeId} · ${transport === 'http' ? 'makeHttpSync' : 'makeWsSync'} · ${syncUrl}`

/** booting → ready (the store runs) or error; the browser tests wait for `ready`. */
const setAppState = (state: 'booting' | 'ready' | 'error', message = '') => {
  document.documentElement.dataset.app = state
  ui.error.textContent = message
  ui.error.hidden = message === ''
}

// ---------------------------------------------------------------------------------------------
// Token: fetched from the example's dev-only endpoint (dev-token.ts), kept for this tab
// ---------------------------------------------------------------------------------------------

type Token = { raw: string; exp: number | undefined; readOnly: boolean }
const tokenKey = `livestore-example:token:${storeId}`

/**
 * Reads `exp` and `readonly` from the token's own claims. Display only: the Worker is the one that
 * checks them. A viewer's page does not commit events at all: the server would refuse its pushes, and
 * the published client retries a refused push with backoff, holding back everything committed after.
 */
const parseToken = (raw: string): Token => {
  try {
    const claims = JSON.parse(atob(raw.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')))
    return { raw, exp: typeof claims.exp === 'number' ? claims.exp : undefined, readOnly: claims.readonly === true }
  } catch {
    return { raw, exp: undefined, readOnly: false }
  }
}

const signIn = async (): Promise<Token> => {
  const query = new URLSearchParams({ store: storeId, role, ...(ttl ? { ttl } : {}) })
  const res = await fetch(`/dev-token?${query}`, { cache: 'no-store' })
  if (!res.ok) throw new Error(`sign-in failed: HTTP ${res.status} ${await res.text()}`)
  const { token } = (await res.json()) as { token: string }
  sessionStorage.setItem(tokenKey, token)
  return parseToken(token)
}

const storedToken = (): Token | undefined => {
  const raw = sessionStorage.getItem(tokenKey)
  const stored = raw ? parseToken(raw) : undefined
  // the tab's token, if it has the role this page asks for
  return stored && stored.readOnly === (role === 'viewer') ? stored : undefined
}

const readOnly = () => token?.readOnly === true

/** Editor or viewer: what the page lets you do, and the button that switches. */
const renderAccess = () => {
  const viewer = readOnly()
  ui.access.dataset.access = viewer ? 'viewer' : 'editor'
  ui.access.textContent = viewer ? 'Viewer: read-only. The todos update live; you cannot edit them.' : 'Editor'
  ui.signInAs.textContent = viewer ? 'Sign in as editor' : 'Sign in as viewer'
  ui.newTodo.disabled = viewer
  ui.newTodo.placeholder = viewer ? 'Read-only: sign in as editor to add todos' : 'What needs to be done?'
  document.documentElement.dataset.access = viewer ? 'viewer' : 'editor'
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

const adapter = makePersistedAdapter({
  storage: { type: 'opfs' },
  // The leader worker learns the server and transport from its URL (`?worker&url` gives the
  // worker's URL instead of a constructor, so a query can be added; it is read in livestore.worker.ts).
  worker: ({ name }) => {
    const url = new URL(leaderWorkerUrl, location.href)
    url.searchParams.set('syncUrl', syncUrl)
    url.searchParams.set('transport', transport)
    leaderWorkerLock = `livestore-example:leader-worker:${crypto.randomUUID()}`
    url.searchParams.set('lifeLock', leaderWorkerLock)
    return new Worker(url, { type: 'module', name })
  },
  sharedWorker: LiveStoreSharedWorker,
})

let store: Store<typeof schema> | undefined
/** The life lock of the last leader worker this tab started (held until that worker is gone). */
let leaderWorkerLock: string | undefined
let token: Token | undefined
let connected = false
let stopWatching = () => {}

const start = async (next: Token) => {
  setAppState('booting')
  token = next
  renderToken()
  renderAccess()
  connected = false
  renderSync()
  if (store) {
    stopWatching()
    await store.shutdownPromise()
    store = undefined
    // The shutdown resolves before the old leader worker is terminated, and a new leader worker
    // started meanwhile fails to open the OPFS databases ("Access Handles cannot be created if there
    // is another open Access Handle", LiveStore 0.4.0; upstream livestorejs/livestore#734). So wait
    // until the old one is gone: its life lock is free then (10 s at most, in case it never took it).
    if (leaderWorkerLock) {
      const t0 = performance.now()
      await navigator.locks
        .request(leaderWorkerLock, { signal: AbortSignal.timeout(10_000) }, async () => {})
        .catch((e) => console.warn('the previous leader worker is still running', e))
      console.info(`store restart: the previous leader worker was gone after ${Math.round(performance.now() - t0)} ms`)
    }
  }
  store = await createStorePromise({
    schema,
    adapter,
    storeId,
    disableDevtools: true,
    syncPayloadSchema: SyncPayload,
    syncPayload: { authToken: next.raw },
  })
  const s = store
  const unsubscribe = s.subscribe(visibleTodos$, renderTodos)
  const fibers = [
    // connected ⇔ the sync backend answers (the client's isConnected, via the leader worker)
    watch(s.networkStatus, (status) => {
      connected = status.isConnected
      if (!connected) void probe()
      renderSync()
    }),
    // Not yet pushed = the leader's pending events: committed and persisted locally, not yet
    // acknowledged by the server. (`store.syncStatus()` counts the tab's events not yet taken by the
    // leader, which drops to 0 at once even offline, so it cannot show this.) `StoreInternalsSymbol`
    // is exported but internal API: LiveStore 0.4.0 has no public accessor for the leader's state.
    watch(s[StoreInternalsSymbol].clientSession.leaderThread.syncState, (state) => {
      ui.pending.textContent = String(state.pending.length)
      ui.pending.dataset.count = String(state.pending.length)
    }),
  ]
  stopWatching = () => {
    unsubscribe()
    for (const f of fibers) Effect.runFork(Fiber.interrupt(f))
  }
  setAppState('ready')
  void probe()
}

/** Runs `f` on the current value of a LiveStore Subscribable and on every change, until interrupted. */
const watch = <A, E>(sub: { get: Effect.Effect<A, E>; changes: Stream.Stream<A, E> }, f: (a: A) => void) =>
  Effect.runFork(
    Stream.concat(Stream.fromEffect(sub.get), sub.changes).pipe(
      Stream.runForEach((a) => Effect.sync(() => f(a))),
      Effect.catchAllCause((cause) => Effect.logWarning('status stream ended', cause)),
    ),
  )

// ---------------------------------------------------------------------------------------------
// Sync state: connected / offline / refused
// ---------------------------------------------------------------------------------------------

// "Refused" cannot be read off the sync client: the published makeWsSync retries a refused
// WebSocket upgrade (401/403) forever without failing any request, and a browser does not even let
// the page see the status of a refused upgrade (the socket just closes with 1006), so isConnected
// is false both when the server is down and when it refuses the token. The Worker checks the token
// before anything else and answers a refused one with 401/403 and a plain-text reason (with CORS
// headers), for both transports. So while the client is not connected, the page asks the Worker
// itself with the same token: one `SyncHttpRpc.Ping` over the HTTP transport (the protocol's own
// health check, a few bytes; any server speaking the protocol answers it). 401/403 → refused (the
// reason is shown); a network error → offline; 200 → the server is up and accepts the token, the
// client is only waiting for its next retry (shown as offline, "reconnecting").
type Probe = { kind: 'refused' | 'reachable' | 'unreachable'; reason: string }
let lastProbe: Probe | undefined
let probing = false

const probe = async () => {
  if (!token || probing) return
  probing = true
  const query = new URLSearchParams({
    storeId,
    // encoded like the published client: encodeURIComponent(JSON), then form-encoded once more
    payload: encodeURIComponent(JSON.stringify({ authToken: token.raw })),
    transport: 'http',
  })
  const body = JSON.stringify({ _tag: 'Request', id: '0', tag: 'SyncHttpRpc.Ping', payload: { storeId }, headers: [] })
  try {
    const res = await fetch(`${syncUrl}?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(5000),
    })
    const text = (await res.text()).trim()
    lastProbe =
      res.status === 401 || res.status === 403
        ? { kind: 'refused', reason: `${res.status}: ${text}` }
        : { kind: res.ok ? 'reachable' : 'unreachable', reason: `HTTP ${res.status}` }
  } catch {
    lastProbe = { kind: 'unreachable', reason: 'server unreachable' }
  } finally {
    probing = false
  }
  renderSync()
}

// The last time the server closed the sync socket with a close frame (the leader worker reports
// every close, see livestore.worker.ts; 1006 means no close frame: refused upgrade, server down).
new BroadcastChannel(SOCKET_CLOSE_CHANNEL).addEventListener('message', (e: MessageEvent<SocketClose>) => {
  if (e.data.storeId !== storeId || e.data.code === 1006) return
  ui.serverClose.textContent = `last closed by the server: ${e.data.code}${e.data.reason ? ` ${e.data.reason}` : ''}`
  ui.serverClose.dataset.code = String(e.data.code)
  ui.serverClose.hidden = false
})

// while not connected, ask again every 3 s (the client's own retries slow down to 30 s)
setInterval(() => {
  if (store && !connected) void probe()
}, 3000)

const renderSync = () => {
  const state = connected ? 'connected' : lastProbe?.kind === 'refused' ? 'refused' : 'offline'
  ui.syncState.textContent = state
  ui.syncState.dataset.state = state
  ui.syncDetail.textContent =
    state === 'connected'
      ? ''
      : state === 'refused'
        ? lastProbe!.reason
        : lastProbe?.kind === 'reachable'
          ? 'reconnecting…'
          : (lastProbe?.reason ?? 'connecting…')
}

// ---------------------------------------------------------------------------------------------
// Token expiry display
// ---------------------------------------------------------------------------------------------

const renderToken = () => {
  if (!token) {
    ui.tokenExpiry.textContent = 'not signed in'
    return
  }
  if (token.exp === undefined) {
    ui.tokenExpiry.textContent = 'token without expiry'
    return
  }
  ui.tokenExpiry.dataset.exp = String(token.exp)
  const left = token.exp - Math.floor(Date.now() / 1000)
  const at = new Date(token.exp * 1000).toLocaleTimeString()
  ui.tokenExpiry.dataset.expired = String(left <= 0)
  ui.tokenExpiry.textContent =
    left > 0 ? `token expires in ${left >= 60 ? `${Math.floor(left / 60)} min ` : ''}${left % 60} s (${at})` : `token expired at ${at}`
}
setInterval(() => {
  const wasValid = ui.tokenExpiry.dataset.expired === 'false'
  renderToken()
  // at the moment of expiry the server closes the socket (4001); ask at once what it says now
  if (wasValid && ui.tokenExpiry.dataset.expired === 'true') void probe()
}, 1000)

// ---------------------------------------------------------------------------------------------
// Todos
// ---------------------------------------------------------------------------------------------

type Todo = { id: string; text: string; completed: boolean }

const renderTodos = (todos: readonly Todo[]) => {
  ui.list.replaceChildren(
    ...todos.map((todo) => {
      const li = document.createElement('li')
      li.dataset.testid = 'todo'
      li.dataset.id = todo.id
      li.className = todo.completed ? 'completed' : ''
      const toggle = document.createElement('input')
      toggle.type = 'checkbox'
      toggle.className = 'toggle'
      toggle.checked = todo.completed
      toggle.disabled = readOnly()
      toggle.addEventListener('change', () => {
        if (readOnly()) return
        store?.commit(toggle.checked ? events.todoCompleted({ id: todo.id }) : events.todoUncompleted({ id: todo.id }))
      })
      const label = document.createElement('label')
      label.dataset.testid = 'todo-text'
      label.textContent = todo.text
      const destroy = document.createElement('button')
      destroy.className = 'destroy'
      destroy.title = 'Delete'
      destroy.textContent = '×'
      destroy.hidden = readOnly()
      destroy.addEventListener('click', () => {
        if (!readOnly()) store?.commit(events.todoDeleted({ id: todo.id, deletedAt: Date.now() }))
      })
      li.append(toggle, label, destroy)
      return li
    }),
  )
  const left = todos.filter((t) => !t.completed).length
  ui.count.textContent = `${left} item${left === 1 ? '' : 's'} left`
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault()
  const text = ui.newTodo.value.trim()
  if (!text || !store || readOnly()) return
  store.commit(events.todoCreated({ id: crypto.randomUUID(), text, createdAt: Date.now() }))
  ui.newTodo.value = ''
})

// "Sign in again": a fresh token, and the store restarted with it (LiveStore 0.4.0 reads the sync
// payload once, when the store starts: there is no way to hand a running store a new token;
// upstream livestorejs/livestore#571). "Sign in as viewer / editor" does the same for the other role.
const signInButton = (button: HTMLButtonElement, nextRole: () => 'editor' | 'viewer') =>
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      role = nextRole()
      lastProbe = undefined
      await start(await signIn())
    } catch (e) {
      setAppState('error', String(e))
    } finally {
      button.disabled = false
    }
  })
signInButton(ui.signIn, () => role)
signInButton(ui.signInAs, () => (readOnly() ? 'editor' : 'viewer'))

// ---------------------------------------------------------------------------------------------
// Boot: the tab's token if it has one (even an expired one: then "sign in again"), else sign in
// ---------------------------------------------------------------------------------------------

const boot = async () => start(storedToken() ?? (await signIn()))
boot().catch((e) => {
  console.error(e)
  setAppState('error', String(e))
})
