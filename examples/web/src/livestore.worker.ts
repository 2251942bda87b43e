// LiveStore's leader worker (a dedicated worker, started by the tab that holds the leader lock): it
// owns the OPFS databases and talks to the sync server. The page passes the server URL and the
// transport in this worker's URL query (see `worker` in main.ts), so one build serves any server.
import { makeWorker } from '@livestore/adapter-web/worker'
import { makeHttpSync, makeWsSync } from '@livestore/sync-cf/client'

import { SOCKET_CLOSE_CHANNEL, type SocketClose } from './socket-close.ts'
import { SyncPayload, schema } from './schema.ts'

const params = new URL(self.location.href).searchParams
const url = params.get('syncUrl')
if (!url) throw new Error('livestore.worker: the syncUrl query parameter is missing')
const transport = params.get('transport') === 'http' ? 'http' : 'ws'

// A Web Lock held for this worker's whole life (released when it is terminated): after a store
// restart the page waits for it, so the next leader worker does not open the OPFS files while this
// one still holds them (see `start` in main.ts).
const lifeLock = params.get('lifeLock')
if (lifeLock) void navigator.locks.request(lifeLock, () => new Promise<never>(() => {}))

if (transport === 'ws') {
  // Tell the page how the server closed the sync socket (e.g. 4001 "Token expired"): the published
  // client keeps the close code to itself and just reconnects. makeWsSync opens its sockets with
  // `new globalThis.WebSocket(url)` (its `webSocketFactory` option is declared but unused in 0.4.0),
  // so a subclass installed here sees every socket it opens.
  const closes = new BroadcastChannel(SOCKET_CLOSE_CHANNEL)
  const NativeWebSocket = globalThis.WebSocket
  globalThis.WebSocket = class extends NativeWebSocket {
    constructor(socketUrl: string | URL, protocols?: string | string[]) {
      super(socketUrl, protocols)
      const storeId = new URL(String(socketUrl)).searchParams.get('storeId') ?? ''
      this.addEventListener('close', (e) =>
        closes.postMessage({ storeId, code: e.code, reason: e.reason } satisfies SocketClose),
      )
    }
  }
}

makeWorker({
  schema,
  syncPayloadSchema: SyncPayload,
  sync: {
    backend:
      transport === 'http'
        ? // HTTP "live" pulls are polling; 1 s instead of the default 5 s keeps the demo lively
          makeHttpSync({ url, livePull: { pollInterval: 1000 } })
        : makeWsSync({ url }),
  },
})
