#!/usr/bin/env node
// `npm run bench`: runs the same workloads against our Rust Worker (build/), the floor object
// (bench/floor: one SQLite insert and one send per message) and the published
// @livestore/sync-cf@0.4.0 (bench/reference/), all under local `wrangler dev` (workerd) with
// observability off, and prints one comparison table. On request (--servers) also the sync-cf API
// servers: the packed package in an app Worker without hooks (pkg) and with async hooks
// (pkg-hooks), and the reference with the same hooks (ref-hooks). See bench/README.md.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { mintHs256 } from '../scripts/lib/hs256.mjs'
import { ensureFloorBuild } from './lib/floor.mjs'
import { profilePush1, profileText } from './lib/profile.mjs'
import { pairedRatio } from './lib/push.mjs'
import { loadAvg } from './lib/procfs.mjs'
import { renderTable, summarize } from './lib/report.mjs'
import { sleep, startServer } from './lib/server.mjs'
import { median } from './lib/stats.mjs'
import { wasmInfo } from './lib/wake.mjs'
import { measureCost, measureIdle, renderCost } from './lib/cost.mjs'
import { PRICES_READ_ON } from './lib/prices.mjs'
import { preparePkgApps } from './lib/pkg.mjs'
import { BENCH_TOKEN, SLOW_HOOK_MS } from './apps/hooks.mjs'
import { API_SERVERS, pushSingle, warmUp, workloadList } from './lib/workloads.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(BENCH, '..')
const REF_CONFIG = path.join(BENCH, 'reference/wrangler.toml')
const REF_HOOKS_CONFIG = path.join(BENCH, 'reference/wrangler-hooks.toml')
const ALL_SERVERS = ['ours', 'd1', 'floor', 'ref', ...API_SERVERS]
const NODE22 = path.join(REPO, 'node_modules/node/bin/node')

const usage = `usage: node bench/run.mjs [options]   (npm run bench -- [options])
  --workloads a,b      subset (names or groups): push1cold,push1,push1paced,push1live,push100,pull,fanout,
                       slowhook,idle,wake,scale (= scale50,scale250,scale1000),stores (= stores200); default all
  --servers a,b        subset of ours,d1,floor,ref,pkg,pkg-hooks,ref-hooks (default ours,d1,floor,ref; the
                       floor runs push1cold, push1, push1paced, wake and the connect phase of scale; pkg,
                       pkg-hooks and ref-hooks run push1, push1live, push100, pull, fanout, and the last
                       two slowhook, only when named). --only X = --servers X
  --pkg-tarball PATH   the package tarball pkg and pkg-hooks install (default: packed here from
                       package.json's files, build/ as it is, without the prepack build)
  --slow-blocks N      blocks of the slowhook workload (default 4; each: both phases on each server)
  --slow-pushes N      the other client's pushes per phase of the slowhook workload (default 250)
  --quick              small counts (smoke run)
  --rounds N           rounds of the repeatable workloads (push1, push1live, push100, pull, fanout;
                       default 1); figures are medians of the rounds
  --big                cold pull of 100,000 events instead of 10,000
  --cold-reps N        repetitions of push1cold on the fresh servers (default 3)
  --blocks N           interleaved blocks of push1/push1cold/push1live (default 8)
  --paced-gap-ms MS    silence after each Exit in push1paced (default 20)
  --idle-ms MS         idle period of the idle workload (default 12000)
  --no-probe           skip the heap-snapshot hibernation probe of the idle workload
  --wake-idle-ms MS    idle period of the wake workload (default 13000)
  --wake-reps N        stores per case in the wake workload (default 3)
  --scale-sockets a,b  live pulls of the scale workloads (default 50,250,1000)
  --scale-rate R       pushes per second in the scale workloads (default 5) ...
  --scale-max-deliveries D  ... capped at D deliveries per second (default 2000: 2 pushes/s at 1,000)
  --scale-pushes N     pushes per scale workload (default 80)
  --scale-ref-max N    the reference runs the scale workloads up to N sockets (default 50)
  --scale-no-ack       diagnostics: the pullers of the scale workloads do not ack the broadcasts
                       (the published client does; shows what the Acks cost the object)
  --stores N           stores of the stores workload (default 200)
  --stores-rate R      pushes per second per store (default 1)
  --stores-seconds S   steady phase (default 10); --stores-burst-seconds S closed-loop phase (default 5)
  --no-stores-ref      the reference skips the stores workload
  --no-log-cost        skip the logging-cost comparison (push1 on ours with LOG_LEVEL=info vs error)
  --log-cost-rounds N  rounds of that comparison (default 8; medians)
  --no-cost            skip the cost table (billed units and dollars per server: rows read/written,
                       DO requests, active time, idle clients; --workloads cost runs only it)
  --no-rule-cost       skip the per-event-rule comparison (push1 on ours with JWT auth, a token with
                       an 8-entry JWT_EVENTS_CLAIM rule vs a token without one)
  --rule-cost-rounds N rounds of that comparison (default 6; medians)
  --profile            after the measured workloads, profile warm single-event pushes in each server's
                       isolate (V8 sampling profiler): .cpuprofile files in bench/.prof/, summary printed
  --keep-logs          keep the wrangler logs (paths printed at the end)`

const parseArgs = (argv) => {
  const o = {
    quick: false,
    big: false,
    rounds: 1,
    servers: undefined,
    workloads: undefined,
    idleMs: 12_000,
    keepLogs: false,
    probe: true,
    logCost: true,
    logCostRounds: 8,
    ruleCost: true,
    cost: true,
    ruleCostRounds: 6,
    coldReps: 3,
    blocks: 8,
    pacedGapMs: 20,
    wakeIdleMs: 13_000,
    wakeReps: 3,
    scaleSockets: undefined,
    scaleRate: 5,
    scalePushes: 80,
    scaleMaxDeliveries: 2000,
    scaleRefMax: 50,
    scaleAck: true,
    stores: 200,
    storesRate: 1,
    storesSeconds: 10,
    storesBurstSeconds: 5,
    storesRef: true,
    profile: false,
    pkgTarball: undefined,
    slowBlocks: 4,
    slowPushes: 250,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const eq = a.indexOf('=')
      if (eq >= 0) return a.slice(eq + 1)
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    const name = a.split('=')[0]
    const num = () => {
      const v = Number(val())
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a === '--big') o.big = true
    else if (name === '--rounds') o.rounds = num()
    else if (name === '--only') o.servers = [val()]
    else if (name === '--servers') o.servers = val().split(',')
    else if (name === '--workloads') o.workloads = val().split(',')
    else if (name === '--idle-ms') o.idleMs = num()
    else if (a === '--keep-logs') o.keepLogs = true
    else if (a === '--no-probe') o.probe = false
    else if (a === '--no-log-cost') o.logCost = false
    else if (name === '--log-cost-rounds') o.logCostRounds = num()
    else if (a === '--no-rule-cost') o.ruleCost = false
    else if (a === '--no-cost') o.cost = false
    else if (name === '--rule-cost-rounds') o.ruleCostRounds = num()
    else if (name === '--cold-reps') o.coldReps = num()
    else if (name === '--blocks') o.blocks = num()
    else if (name === '--paced-gap-ms') o.pacedGapMs = num()
    else if (name === '--wake-idle-ms') o.wakeIdleMs = num()
    else if (name === '--wake-reps') o.wakeReps = num()
    else if (name === '--scale-sockets') o.scaleSockets = val().split(',').map(Number)
    else if (name === '--scale-rate') o.scaleRate = num()
    else if (name === '--scale-pushes') o.scalePushes = num()
    else if (name === '--scale-max-deliveries') o.scaleMaxDeliveries = num()
    else if (name === '--scale-ref-max') o.scaleRefMax = Number(val())
    else if (a === '--scale-no-ack') o.scaleAck = false
    else if (name === '--stores') o.stores = num()
    else if (name === '--stores-rate') o.storesRate = num()
    else if (name === '--stores-seconds') o.storesSeconds = num()
    else if (name === '--stores-burst-seconds') o.storesBurstSeconds = num()
    else if (a === '--no-stores-ref') o.storesRef = false
    else if (a === '--profile') o.profile = true
    else if (name === '--pkg-tarball') o.pkgTarball = val()
    else if (name === '--slow-blocks') o.slowBlocks = num()
    else if (name === '--slow-pushes') o.slowPushes = num()
    else if (a === '--help' || a === '-h') {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}\n${usage}`)
  }
  for (const s of o.servers ?? []) if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s} (${ALL_SERVERS.join(', ')})`)
  return o
}

const opts = parseArgs(process.argv.slice(2))
const common = {
  idleMs: opts.idleMs,
  probe: opts.probe,
  coldReps: opts.coldReps,
  push1Blocks: opts.blocks,
  wakeIdleMs: opts.wakeIdleMs,
  wakeReps: opts.wakeReps,
  scaleRate: opts.scaleRate,
  scalePushes: opts.scalePushes,
  scaleMaxDeliveries: opts.scaleMaxDeliveries,
  scaleRefMax: opts.scaleRefMax,
  scaleAck: opts.scaleAck,
  storesRate: opts.storesRate,
  storesSeconds: opts.storesSeconds,
  storesBurstSeconds: opts.storesBurstSeconds,
  storesRef: opts.storesRef,
  storePullers: 2,
  drainMs: 15_000,
  pacedGapMs: opts.pacedGapMs,
  pacedEvents: 400,
  slowBlocks: opts.slowBlocks,
  slowPushes: opts.slowPushes,
}
const cfg = opts.quick
  ? { ...common, pacedEvents: 160, push1Events: 400, push100Events: 2000, pullEvents: opts.big ? 20_000 : 1000, fanoutPullers: 10, fanoutPushes: 20, slowBlocks: Math.min(opts.slowBlocks, 2), slowPushes: Math.min(opts.slowPushes, 50), coldReps: Math.min(opts.coldReps, 2), push1Blocks: Math.min(opts.blocks, 4), scaleSockets: opts.scaleSockets ?? [10, 50], scalePushes: Math.min(opts.scalePushes, 20), stores: Math.min(opts.stores, 20), storesSeconds: Math.min(opts.storesSeconds, 4), storesBurstSeconds: Math.min(opts.storesBurstSeconds, 2) }
  : { ...common, push1Events: 2000, push100Events: 20_000, pullEvents: opts.big ? 100_000 : 10_000, fanoutPullers: 50, fanoutPushes: 200, scaleSockets: opts.scaleSockets ?? [50, 250, 1000], stores: opts.stores }

const ALL = workloadList(cfg).map((w, i) => ({ ...w, index: i + 1 }))
// `cost` is the cost table (bench/lib/cost.mjs), not a workload of the main table
const costWanted = opts.cost && (!opts.workloads || opts.workloads.includes('cost'))
const wanted = opts.workloads?.filter((w) => w !== 'cost')
if (wanted) for (const w of wanted) if (!ALL.some((x) => x.key === w || x.group === w)) throw new Error(`unknown workload ${w}; known: ${ALL.map((x) => x.key).join(',')} (groups: scale, stores)`)
const requested = opts.servers ?? ['ours', 'd1', 'floor', 'ref']
for (const w of ALL) w.kinds = w.servers.filter((k) => requested.includes(k))
// a workload none of whose servers was asked for is left out (e.g. slowhook in the default run)
const workloads = ALL.filter((w) => (!wanted || wanted.includes(w.key) || (w.group && wanted.includes(w.group))) && w.kinds.length > 0)
const kinds = ALL_SERVERS.filter((k) => workloads.some((w) => w.kinds.includes(k)) || (costWanted && requested.includes(k) && !API_SERVERS.includes(k)))

const SERVER_SETUP = {
  ours: { vars: { AUTH_MODE: 'none' }, label: 'ours (Rust, build/)' },
  // ours again, with the event logs in a local D1 database instead of each object's SQLite
  d1: { kind: 'ours', d1: true, vars: { AUTH_MODE: 'none', STORAGE: 'd1' }, label: 'ours on D1 (STORAGE=d1)' },
  floor: { vars: {}, label: 'floor (bench/floor: one SQLite insert + one send per message)' },
  ref: { vars: {}, label: 'reference (@livestore/sync-cf@0.4.0, bench/reference/)', config: REF_CONFIG },
  // the sync-cf API: the packed package in an app Worker (bench/apps, bench/lib/pkg.mjs), run by
  // this repository's wrangler. No vars: without AUTH_MODE=jwt the API mode checks no JWT (README,
  // "Keep your Worker code"); the config gets filled in once the app folders exist.
  pkg: { kind: 'app', app: 'pkg', vars: {}, label: 'pkg (the packed package: makeDurableObject({}) + makeWorker, no hooks)' },
  'pkg-hooks': {
    kind: 'app',
    app: 'pkg-hooks',
    vars: {},
    syncPayload: { authToken: BENCH_TOKEN },
    label: 'pkg-hooks (the packed package with async onPush/onPull that log and an async validatePayload, bench/apps/hooks.mjs)',
  },
  'ref-hooks': {
    vars: {},
    config: REF_HOOKS_CONFIG,
    kind: 'ref',
    syncPayload: { authToken: BENCH_TOKEN },
    label: 'ref-hooks (the reference with the same hooks, bench/reference/worker-hooks.ts)',
  },
}
// The logging-cost comparison runs push1 on ours (LOG_LEVEL defaults to info)
// and on a second copy of ours that logs errors only.
const QUIET = { kind: 'ours', vars: { AUTH_MODE: 'none', LOG_LEVEL: 'error' } }
const logCost = opts.logCost && kinds.includes('ours') && workloads.some((w) => w.key === 'push1')
// The per-event-rule comparison: push1 on one more copy of ours with JWT auth and
// JWT_EVENTS_CLAIM set, over sockets opened with two tokens: one whose claim lists 8 entries
// (the pushed name matches the last, a prefix: the most work a rule does per event) and one without
// the claim (no rule). Same server, same auth; only the rule differs.
const RULE_SECRET = 'bench-rule-cost-secret-0123456789-abcdef'
const RULE_SERVER = { kind: 'ours', vars: { AUTH_MODE: 'jwt', JWT_SECRET: RULE_SECRET, JWT_ANY_STORE: 'true', JWT_EVENTS_CLAIM: 'events' } }
const RULE_EVENTS = ['userCreated', 'userRenamed', 'user*', 'labelAdded', 'labelRemoved', 'comment*', 'attachment*', 'todo*']
const ruleToken = (claims) => mintHs256({ sub: 'bench', exp: Math.floor(Date.now() / 1000) + 86_400, ...claims }, RULE_SECRET)
const ruleCost = opts.ruleCost && kinds.includes('ours') && workloads.some((w) => w.key === 'push1')

const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)

if (kinds.includes('ours') && !existsSync(path.join(REPO, 'build/index.js'))) {
  console.error('build/index.js is missing: build the Rust worker first (this script never builds it).')
  process.exit(2)
}
if (kinds.includes('ref') && !existsSync(REF_CONFIG)) {
  console.error(`${REF_CONFIG} is missing.`)
  process.exit(2)
}

/** Soft limit of open files of this process (its children inherit it). */
const openFilesLimit = () => {
  try {
    const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m)
    return m[1] === 'unlimited' ? Infinity : Number(m[1])
  } catch {
    return undefined
  }
}

/** size + mtime of the build artefacts, to notice a rebuild during the run (ours runs the copy from the start). */
const buildStamp = () =>
  ['build/index.js', 'build/index_bg.wasm']
    .map((f) => {
      try {
        const st = statSync(path.join(REPO, f))
        return `${f}:${st.size}:${st.mtimeMs}`
      } catch {
        return `${f}:missing`
      }
    })
    .join(' ')

const main = async () => {
  const startedAt = new Date()
  const stampAtStart = buildStamp()
  const loadAtStart = loadAvg()
  const maxSockets = Math.max(0, ...workloads.filter((w) => w.group === 'scale').map((w) => Number(w.key.slice(5)) + 1), ...workloads.filter((w) => w.group === 'stores').map(() => cfg.stores * (cfg.storePullers + 1)))
  const fdLimit = openFilesLimit()
  // the client holds one descriptor per socket; wrangler's proxy workerd two
  if (fdLimit !== undefined && fdLimit < 2 * maxSockets + 512) {
    console.error(`open-files limit ${fdLimit} is too low for ${maxSockets} sockets: run \`ulimit -n ${Math.max(8192, 4 * maxSockets)}\` first (the servers inherit it).`)
    process.exit(2)
  }
  let floorBuild
  if (kinds.includes('floor')) floorBuild = ensureFloorBuild({ log })
  let pkgApps
  const pkgKinds = kinds.filter((k) => SERVER_SETUP[k].app)
  if (pkgKinds.length) {
    pkgApps = preparePkgApps({ apps: pkgKinds.map((k) => SERVER_SETUP[k].app), tarball: opts.pkgTarball, log })
    for (const k of pkgKinds) SERVER_SETUP[k].config = pkgApps.configs[SERVER_SETUP[k].app]
    log(`package: ${pkgApps.tarball}; its Wasm ${pkgApps.wasmSha256 === pkgApps.buildWasmSha256 ? 'is' : 'is NOT'} build/'s (sha256 ${pkgApps.wasmSha256.slice(0, 12)}…)`)
  }
  log(`load average at start: ${loadAtStart.join(' ')} (${os.cpus().length} CPUs)`)
  log(`workloads: ${workloads.map((w) => w.key).join(', ')}; starting ${kinds.join(', ')} under wrangler dev ...`)
  const servers = {}
  const results = []
  const logCostRuns = []
  const ruleCostRuns = []
  const costs = {}
  const wasm = {}
  const profiles = {}
  const restarts = []
  try {
    // All start in parallel; only one is ever under load at a time afterwards (except the
    // interleaved workloads, which still load one at a time, block by block).
    const starting = kinds.map((k) => ({ key: k, kind: SERVER_SETUP[k].kind ?? k, d1: SERVER_SETUP[k].d1, vars: SERVER_SETUP[k].vars, config: SERVER_SETUP[k].config }))
    if (logCost) starting.push({ key: 'ours-quiet', ...QUIET })
    if (ruleCost) starting.push({ key: 'ours-rule', ...RULE_SERVER })
    const started = await Promise.allSettled(starting.map((s) => startServer({ kind: s.kind, d1: s.d1, env: s.vars, keepLogs: opts.keepLogs, config: s.config })))
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') servers[starting[i].key] = s.value
    })
    // servers with validatePayload: every socket of the workloads sends the token
    for (const k of kinds) if (servers[k] && SERVER_SETUP[k].syncPayload) servers[k].syncPayload = SERVER_SETUP[k].syncPayload
    // the rule-cost server has auth on: its warm-up uses a token without a rule
    if (servers['ours-rule']) servers['ours-rule'].syncPayload = { authToken: ruleToken({}) }
    const failedStart = started.find((s) => s.status === 'rejected')
    if (failedStart) throw failedStart.reason
    for (const k of Object.keys(servers)) {
      const s = servers[k]
      log(`${k}: http://127.0.0.1:${s.port} ready in ${(s.readyMs / 1000).toFixed(1)} s; workerd pids ${s.procs.map((p) => `${p.pid}(${p.role})`).join(', ')}`)
    }
    const pick = (ks) => Object.fromEntries(ks.map((k) => [k, servers[k]]))
    // a fresh server (a new workerd process), warmed up: memory figures start from a clean process
    const restart = async (k) => {
      log(`restarting ${k} for a clean memory baseline ...`)
      const keep = servers[k].keepLogs
      await servers[k].stop()
      servers[k] = await startServer({ kind: SERVER_SETUP[k].kind ?? k, d1: SERVER_SETUP[k].d1, env: SERVER_SETUP[k].vars, keepLogs: opts.keepLogs || keep, config: SERVER_SETUP[k].config })
      if (SERVER_SETUP[k].syncPayload) servers[k].syncPayload = SERVER_SETUP[k].syncPayload
      restarts.push({ kind: k, pids: servers[k].procs })
      await warmUp(servers[k], { pushesOnly: k === 'floor' })
    }

    const runWorkload = async (w, round, rounds) => {
      if (w.runAll) {
        const order = round % 2 ? [...w.kinds].reverse() : w.kinds
        log(`${w.key}${rounds > 1 ? ` round ${round + 1}/${rounds}` : ''} on ${order.join(', ')} ...`)
        const t0 = performance.now()
        try {
          const out = await w.runAll(pick(order), cfg)
          for (const k of w.kinds) results.push({ workload: w.key, server: k, round: round + 1, runS: (performance.now() - t0) / 1000, ok: true, ...out[k] })
        } catch (e) {
          log(`  FAILED: ${String(e?.message ?? e).split('\n')[0]}`)
          for (const k of w.kinds) {
            servers[k].keepLogs = true
            results.push({ workload: w.key, server: k, round: round + 1, ok: false, error: String(e?.stack ?? e) })
          }
        }
        return
      }
      const order = (round + w.index) % 2 === 1 ? w.kinds : [...w.kinds].reverse()
      for (const k of order) {
        if (w.fresh) await restart(k)
        log(`${w.key}${rounds > 1 ? ` round ${round + 1}/${rounds}` : ''} on ${k} ...`)
        const t0 = performance.now()
        let r
        try {
          r = { ok: true, ...(await w.run(servers[k], cfg)) }
        } catch (e) {
          r = { ok: false, error: String(e?.stack ?? e) }
          log(`  FAILED: ${String(e?.message ?? e).split('\n')[0]}`)
        }
        if (!r.ok) servers[k].keepLogs = true
        results.push({ workload: w.key, server: k, round: round + 1, order: order.indexOf(k) + 1, runS: (performance.now() - t0) / 1000, ...r })
        await sleep(300)
      }
    }

    // cold first: nothing but the readiness probe has run on the servers yet
    for (const w of workloads.filter((x) => x.cold)) await runWorkload(w, 0, 1)
    for (const k of Object.keys(servers)) {
      log(`warming up ${k} ...`)
      await warmUp(servers[k], { pushesOnly: k === 'floor' })
    }
    for (const w of workloads.filter((x) => !x.cold)) {
      const rounds = w.once ? 1 : opts.rounds
      for (let round = 0; round < rounds; round++) {
        await runWorkload(w, round, rounds)
        await sleep(300)
      }
    }
    if (logCost) {
      for (let round = 0; round < opts.logCostRounds; round++) {
        for (const k of round % 2 ? ['ours-quiet', 'ours'] : ['ours', 'ours-quiet']) {
          log(`log cost round ${round + 1}/${opts.logCostRounds} on ${k} ...`)
          const r = await pushSingle(servers[k], cfg)
          logCostRuns.push({ server: k, cpuPer1k: r.userWorkerCpuPer1kEventsS, allCpuPer1k: r.cpuPer1kEventsS })
          await sleep(300)
        }
      }
    }
    if (ruleCost) {
      const tokens = { 'no rule': ruleToken({}), '8-entry rule': ruleToken({ events: RULE_EVENTS }) }
      for (let round = 0; round < opts.ruleCostRounds; round++) {
        for (const variant of round % 2 ? ['8-entry rule', 'no rule'] : ['no rule', '8-entry rule']) {
          log(`rule cost round ${round + 1}/${opts.ruleCostRounds}: ${variant} ...`)
          const r = await pushSingle({ ...servers['ours-rule'], syncPayload: { authToken: tokens[variant] } }, cfg)
          ruleCostRuns.push({ variant, cpuPer1k: r.userWorkerCpuPer1kEventsS, p50Ms: r.latencyMs.p50 })
          await sleep(300)
        }
      }
    }
    if (costWanted) {
      for (const k of kinds) {
        log(`cost workloads on ${k} ...`)
        try {
          costs[k] = await measureCost(servers[k], k, { withIdle: false })
        } catch (e) {
          log(`cost workloads on ${k} failed: ${e.message}`)
          servers[k].keepLogs = true
        }
      }
      log(`cost: ${kinds.join(', ')} idle for 12 s at once ...`)
      await Promise.all(
        kinds.filter((k) => costs[k]).map(async (k) => {
          costs[k].idle = await measureIdle(servers[k], k).catch((e) => {
            log(`idle cost on ${k} failed: ${e.message}`)
            return undefined
          })
        }),
      )
    }
    if (opts.profile) {
      for (const k of kinds) {
        log(`profiling push1 on ${k} ...`)
        try {
          profiles[k] = await profilePush1(servers[k], { name: k, pushes: k === 'ref' ? 1000 : 3000, outDir: path.join(BENCH, '.prof'), tag: startedAt.toISOString().replace(/[:.]/g, '-') })
        } catch (e) {
          profiles[k] = { error: String(e?.message ?? e) }
        }
      }
    }
  } finally {
    for (const k of Object.keys(servers)) {
      try {
        await servers[k].stop()
      } catch (e) {
        log(`stopping ${k}: ${e.message}`)
      }
    }
    pkgApps?.remove()
  }

  // scale: the CPU each added delivery costs, from one socket count to the next (per push)
  for (const k of kinds) {
    const sc = results.filter((r) => r.ok && r.server === k && r.workload.startsWith('scale')).sort((a, b) => a.extra.sockets - b.extra.sockets)
    for (let i = 1; i < sc.length; i++) {
      const [a, b] = [sc[i - 1].extra, sc[i].extra]
      b.marginalUserWorkerCpuPerDeliveryUs = ((b.userWorkerCpuPerPushMs - a.userWorkerCpuPerPushMs) / (b.sockets - a.sockets)) * 1000
    }
  }
  if (workloads.some((w) => w.key === 'wake')) {
    if (kinds.includes('ours')) wasm.ours = wasmInfo(path.join(REPO, 'build/index_bg.wasm'), { nodeBin: existsSync(NODE22) ? NODE22 : process.execPath })
    if (kinds.includes('floor')) wasm.floor = wasmInfo(path.join(REPO, 'bench/floor/build/index_bg.wasm'), { nodeBin: existsSync(NODE22) ? NODE22 : process.execPath })
    for (const r of results) if (r.workload === 'wake' && wasm[r.server]) r.wasm = wasm[r.server]
  }

  const rows = summarize(workloads, cfg, results)
  const totalS = (Date.now() - startedAt.getTime()) / 1000
  const idle = results.filter((r) => r.workload === 'idle' && r.ok)
  const probe = [...new Set(idle.map((r) => r.extra?.evictionProbe))].join(', ')
  const labels = kinds.map((k) => SERVER_SETUP[k].label)

  const header = [
    `LiveStore sync backend benchmark: ${labels.join(' vs ')}`,
    `Servers: local wrangler dev (workerd ${readVersion('node_modules/@cloudflare/workerd-linux-64/package.json')}, wrangler ${readVersion('node_modules/wrangler/package.json')}) on 127.0.0.1, local observability off, fresh --persist-to folder each, started together. Every workload uses fresh stores (= fresh Durable Objects).`,
    `Client: raw WebSocket client (ws) in this Node process speaking the Effect RPC JSON frames (Ack after every Chunk, like the published client); the floor gets the very same push frames${kinds.some((k) => SERVER_SETUP[k].syncPayload) ? '; pkg-hooks and ref-hooks get the token their validatePayload checks in every socket\'s sync payload' : ''}.`,
    `CPU: per-thread run time (/proc/<pid>/task/*/schedstat) of the workerd that runs the Worker and its Durable Objects = what Cloudflare bills as CPU time ("user worker"; its V8 background threads, i.e. tier-up compilation and concurrent GC, shown apart), and of wrangler's local proxy workerd in front of it, which production does not have. "all workerd" = both, which is what the old bench and a black-box /proc reading report.`,
    `push1cold runs first, on servers on which nothing but the readiness probe ran; then every server is warmed up. push1cold, push1, push1paced and push1live interleave the servers block by block (order rotating); the CPU figures of push1, push1paced and push1live are medians over the blocks, those of push1cold cover each whole repetition.${opts.rounds > 1 ? ` Repeatable workloads: medians of ${opts.rounds} rounds.` : ''}`,
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average at start ${loadAtStart.join(' ')}${opts.quick ? '; --quick counts' : ''}${opts.big ? '; --big' : ''}. "other processes" = the machine's busy CPU (/proc/stat) minus these servers and this client. Total run time ${totalS.toFixed(0)} s.`,
  ]
  const footer = []
  const get = (w, k) => results.find((r) => r.workload === w && r.server === k && r.ok)
  const cold = ['ours', 'floor', 'ref'].map((k) => [k, get('push1cold', k)]).filter(([, r]) => r?.extra?.reps?.length)
  if (cold.length) {
    footer.push(
      `Reconciliation: a black-box run (${cfg.push1Events} pushes × ${cfg.coldReps} repetitions on a fresh wrangler dev, all workerd CPU) would report the median of push1cold's repetitions: ` +
        cold.map(([k, r]) => `${k} ${median(r.extra.reps.map((x) => x.cpuPer1kEventsS)).toFixed(2)} (${r.extra.reps.map((x) => x.cpuPer1kEventsS.toFixed(2)).join(' / ')})`).join(', ') +
        ` s per 1,000 events; the bill sees the user worker only: warm ${['ours', 'floor', 'ref']
          .map((k) => [k, get('push1', k)])
          .filter(([, r]) => r)
          .map(([k, r]) => `${k} ${r.userWorkerCpuPer1kEventsS.toFixed(2)}`)
          .join(', ')} (push1), paced ${['ours', 'floor', 'ref']
          .map((k) => [k, get('push1paced', k)])
          .filter(([, r]) => r)
          .map(([k, r]) => `${k} ${r.userWorkerCpuPer1kEventsS.toFixed(2)}`)
          .join(', ')} (push1paced). See bench/README.md.`,
    )
  }
  for (const w of ['push1', 'push1paced', 'push1cold']) {
    const pr = pairedRatio(get(w, 'ours'), get(w, 'floor'))
    if (pr) footer.push(`${w}: ours/floor user-worker CPU per event, paired block by block: median ${pr.median.toFixed(2)} (blocks ${pr.min.toFixed(2)}–${pr.max.toFixed(2)}).`)
  }
  if (pkgApps) {
    footer.push(
      `pkg, pkg-hooks: ${pkgApps.packed ? "the repository's package packed by the bench (package.json files, build/ as it was, no prepack build)" : `the tarball ${pkgApps.tarball}`}, installed with npm into an app folder outside the repository and run by this repository's wrangler; its Wasm ${pkgApps.wasmSha256 === pkgApps.buildWasmSha256 ? "is byte for byte ours' (build/)" : "DIFFERS from ours' (build/): pkg/ours compares two builds"}.`,
    )
  }
  for (const [w, a, b] of [
    ['push1', 'pkg', 'ours'],
    ['push1live', 'pkg', 'ours'],
    ['push1', 'pkg-hooks', 'ref-hooks'],
    ['push1live', 'pkg-hooks', 'ref-hooks'],
    ['push1', 'pkg-hooks', 'pkg'],
  ]) {
    const pr = pairedRatio(get(w, a), get(w, b))
    if (pr) footer.push(`${w}: ${a}/${b} user-worker CPU per event, paired block by block: median ${pr.median.toFixed(2)} (blocks ${pr.min.toFixed(2)}–${pr.max.toFixed(2)}).`)
  }
  for (const k of ['pkg-hooks', 'ref-hooks']) {
    const r = get('slowhook', k)
    if (!r) continue
    const x = r.extra
    footer.push(
      `Slow hook on ${k}: the other client's push p50/p99 ${r.latencyMs.p50.toFixed(2)}/${r.latencyMs.p99.toFixed(2)} ms alone, ` +
        `${x.withSlowLatencyMs.p50.toFixed(2)}/${x.withSlowLatencyMs.p99.toFixed(2)} ms (max ${x.withSlowLatencyMs.max.toFixed(1)}) while another client's push waited ${SLOW_HOOK_MS} ms in onPush ` +
        `(${x.slowPushes} slow pushes, answered after p50 ${x.slowPushLatencyMs?.p50?.toFixed(0)} ms: ${Object.entries(x.slowPushOutcomes).map(([t, n]) => `${n} ${t}`).join(', ')}); ` +
        `other-client pushes failed: ${x.fastFailures}; the log ${x.admissionHeld ? 'is exactly' : 'is NOT'} the other client's ${x.storedEvents} events.`,
    )
  }
  if (workloads.some((w) => w.key === 'idle')) {
    footer.push(
      `Idle: the socket stays open, nothing is sent. "hibernated/evicted" from workerd's V8 inspector (${probe || 'n/a'}): heap snapshots in a second idle period; "yes" = workerd released the object's isolate-side state while idle.`,
    )
  }
  if (workloads.some((w) => w.key === 'wake')) {
    footer.push(
      `Wake: (a) stores with no socket open during the idle period, (b) stores whose pushing socket stayed open. "evicted" = a new instance opened the store (ours: a new \`instance\` in its store.load log line; the reference and the floor: their one line per instance). The local reference is never evicted while a socket is open: its (b) is a warm figure. Wasm compile times are from Node 22's V8, not workerd's: compare ours with the floor, not with production.`,
    )
  }
  if (workloads.some((w) => w.group === 'scale')) {
    footer.push(
      `Scale: open loop at ${cfg.scaleRate} pushes/s, capped at ${cfg.scaleMaxDeliveries} deliveries/s (--scale-max-deliveries); ${cfg.scaleAck === false ? 'the pullers do NOT ack the broadcasts (--scale-no-ack, diagnostics; the published client does)' : 'every delivery is acked by its client (one more message to the object)'}; each server is restarted before each scale workload (clean memory baseline). The floor column is the connect phase only (the floor cannot broadcast): what the runtime itself costs per socket. The reference runs only up to ${cfg.scaleRefMax} sockets (--scale-ref-max): beyond that it needs more CPU than this machine has at this rate. "marginal" = (CPU per push at this size − at the previous size) / added sockets.`,
    )
  }
  const buildChanged = kinds.includes('ours') && buildStamp() !== stampAtStart
  if (buildChanged) footer.push('NOTE: build/ changed during the run; ours ran a private copy of build/ taken at its start, so its figures are for the build at start.')
  if (floorBuild?.built) footer.push(`The floor was built for this run (${floorBuild.reason}, ${floorBuild.seconds.toFixed(0)} s) before the servers started.`)
  const failures = results.filter((r) => !r.ok)
  for (const f of failures) footer.push(`FAILED: ${f.workload} on ${f.server} (round ${f.round}): ${f.error.split('\n')[0]}`)

  if (logCostRuns.length) {
    const med = (k, f) => median(logCostRuns.filter((r) => r.server === k).map(f))
    const info = med('ours', (r) => r.cpuPer1k)
    const quiet = med('ours-quiet', (r) => r.cpuPer1k)
    footer.unshift(
      `Logging cost (ours, ${cfg.push1Events} single-event pushes, medians of ${opts.logCostRounds} alternating rounds, user-worker CPU): ` +
        `LOG_LEVEL=info ${info.toFixed(3)} s per 1,000 events, LOG_LEVEL=error ${quiet.toFixed(3)} s; ` +
        `logging at info costs ${(((info - quiet) / quiet) * 100).toFixed(1)} % of push CPU.`,
    )
  }

  if (ruleCostRuns.length) {
    const med = (v, f) => median(ruleCostRuns.filter((r) => r.variant === v).map(f))
    const [off, on] = ['no rule', '8-entry rule'].map((v) => ({ cpu: med(v, (r) => r.cpuPer1k), p50: med(v, (r) => r.p50Ms) }))
    footer.unshift(
      `Per-event rule cost (ours with JWT auth, ${cfg.push1Events} single-event pushes, medians of ${opts.ruleCostRounds} alternating rounds, user-worker CPU): ` +
        `no rule ${off.cpu.toFixed(3)} s per 1,000 events (p50 ${off.p50.toFixed(2)} ms), ` +
        `an 8-entry JWT_EVENTS_CLAIM rule ${on.cpu.toFixed(3)} s (p50 ${on.p50.toFixed(2)} ms): ` +
        `${(((on.cpu - off.cpu) / off.cpu) * 100).toFixed(1)} % of push CPU.`,
    )
  }

  const costText = Object.keys(costs).length
    ? [
        '',
        ...renderCost(costs, { ours: 'ours', d1: 'ours D1', floor: 'floor', ref: 'reference' }),
        '',
        `Cost method (bench/lib/cost.mjs): rows read/written are the runtime's counters (SQL cursors, D1 meta) read inside each server's Durable Object (bench/usage/meter.mjs), each setAlarm() one row written; DO requests = upgrades + the client's frames / 20 + alarm runs; active time is an estimate (the request → answer latencies; a hibernatable object is billed only while a handler runs); idle = whether the object was evicted in 12 s without traffic (an object that cannot hibernate is billed all month; the 10 s pings are counted as messages). Dollars: Cloudflare's marginal Workers Paid prices read on ${PRICES_READ_ON} (bench/lib/prices.mjs), monthly inclusions left out. The floor cannot broadcast: it pushes without live pulls.`,
      ]
    : []
  const text = [...header, ...(workloads.length ? ['', renderTable(rows, kinds)] : []), ...costText, '', ...footer, ...(opts.profile ? profileText(profiles) : [])].join('\n')
  console.log(text)

  const outDir = path.join(BENCH, 'results')
  mkdirSync(outDir, { recursive: true })
  const outFile = path.join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const meta = {
    startedAt: startedAt.toISOString(),
    totalS,
    args: process.argv.slice(2),
    build: { atStart: stampAtStart, changedDuringRun: buildChanged, floor: floorBuild },
    pkg: pkgApps && { tarball: pkgApps.tarball, packedByBench: pkgApps.packed, wasmSha256: pkgApps.wasmSha256, buildWasmSha256: pkgApps.buildWasmSha256 },
    counts: cfg,
    rounds: opts.rounds,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAvgAtStart: loadAtStart, node: process.version, platform: `${os.platform()} ${os.release()}`, openFilesLimit: fdLimit },
    client: 'raw WebSocket (ws), JSON frames, Ack per Chunk, one Node process',
    wasm,
    restarts,
    servers: Object.fromEntries(
      kinds.map((k) => [
        k,
        {
          label: SERVER_SETUP[k].label,
          vars: SERVER_SETUP[k].vars,
          readyMs: servers[k]?.readyMs,
          workerd: servers[k]?.procs,
          logFile: servers[k]?.keepLogs ? servers[k].logFile : undefined,
        },
      ]),
    ),
  }
  writeFileSync(outFile, JSON.stringify({ meta, summary: rows, results, logCostRuns, ruleCostRuns, costs, profiles, table: text }, null, 2))
  console.log(`\nJSON: ${path.relative(process.cwd(), outFile)}`)
  for (const k of Object.keys(servers)) if (servers[k]?.keepLogs) console.log(`wrangler log (${k}): ${servers[k].logFile}`)
  if (failures.length) process.exitCode = 1
}

function readVersion(rel) {
  try {
    return JSON.parse(readFileSync(path.join(REPO, rel), 'utf8')).version
  } catch {
    return '?'
  }
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(1)
})
