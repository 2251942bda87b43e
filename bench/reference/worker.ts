// The reference server as the benchmark runs it: tests/reference/worker.ts (the published,
// unmodified @livestore/sync-cf@0.4.0) plus one log line per Durable Object instance, written in
// its constructor, so that the benchmark can prove an eviction (a new instance) the same way it
// does for ours (`store.load` with a new `instance`). Nothing else differs; the constructor runs
// once per instance, never per message.
import { makeDurableObject, makeWorker } from '@livestore/sync-cf/cf-worker'

const Base = makeDurableObject({})

export class SyncBackendDO extends Base {
  constructor(ctx: any, env: any) {
    super(ctx, env)
    console.log(JSON.stringify({ event: 'bench.ref.instance', instance: crypto.randomUUID().slice(0, 8), name: ctx.id.name ?? null }))
  }
}

export default makeWorker({ syncBackendBinding: 'SYNC_BACKEND_DO', enableCORS: true })
