// handleSyncRequest inside an app's own fetch, which serves other routes too.
import { type CfTypes, handleSyncRequest, makeDurableObject, matchSyncRequest } from '@livestore/sync-cf/cf-worker'

type Env = { SYNC_BACKEND_DO: CfTypes.DurableObjectNamespace; API_KEY: string }

export class SyncBackendDO extends makeDurableObject({
  http: { responseHeaders: { 'Cache-Control': 'no-store' } },
}) {}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/health') return new Response('app ok')
    const searchParams = matchSyncRequest(request)
    if (searchParams !== undefined) {
      const { storeId, payload, transport } = searchParams
      console.log(storeId.toLowerCase(), payload, transport === 'ws' ? 'WebSocket' : 'HTTP')
      return handleSyncRequest<Env>({
        request,
        searchParams,
        env,
        ctx,
        syncBackendBinding: 'SYNC_BACKEND_DO',
        headers: { 'X-App': 'custom' },
        validatePayload: (payload, { storeId: id }) => {
          if (payload === null || env.API_KEY === id) throw new Error('refused')
        },
      })
    }
    return new Response('Not found', { status: 404 })
  },
} satisfies ExportedHandler<Env>
