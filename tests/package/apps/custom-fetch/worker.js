// handleSyncRequest inside an app's own fetch, which also serves other routes.
import { handleSyncRequest, makeDurableObject, matchSyncRequest } from 'livestore-sync-rs/cf-worker'

export class SyncBackendDO extends makeDurableObject({
  http: { responseHeaders: { 'Cache-Control': 'no-store' } },
}) {}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/health') return new Response('app ok')
    const searchParams = matchSyncRequest(request)
    if (searchParams !== undefined) {
      return handleSyncRequest({
        request,
        searchParams,
        env,
        ctx,
        syncBackendBinding: 'SYNC_BACKEND_DO',
        headers: { 'X-App': 'custom' },
      })
    }
    return new Response('Not found', { status: 404 })
  },
}
