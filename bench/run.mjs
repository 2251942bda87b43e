#!/usr/bin/env node
// `npm run bench`: runs the same workloads against our Rust Worker (build/) and the published
// @livestore/sync-cf@0.4.0 (tests/reference/), both under local `wrangler dev` (workerd) with
// observability off, alternating between the two, and prints one comparison table.
// Usage: node bench/run.mjs [--quick] [--big] [--rounds N] [--only ours|ref]
//                           [--workloads push1,push100,pull,fanout,idle] [--idle-ms MS] [--keep-logs]
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { loadAvg } from './lib/procfs.mjs'
import { renderTable, summarize } from './lib/report.mjs'
import { sleep, startServer } from './lib/server.mjs'
import { SOURCE_CONFIG } from '../tests/support/wrangler-dev.mjs'
import { WORKLOADS, warmUp } from './lib/workloads.mjs'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(BENCH, '..')

const usage = `usage: node bench/run.mjs [options]
  --quick              small counts (smoke run, 1 round)
  --big                cold pull of 100,000 events instead of 10,000
  --rounds N           rounds per workload (default 1; idle always runs once); the server that goes
                       first alternates between workloads and rounds; figures are medians of the rounds
  --only ours|ref      run one server only
  --workloads a,b      subset of: ${WORKLOADS.map((w) => w.key).join(',')}
  --idle-ms MS         idle period of the idle workload (default 12000)
  --no-probe           skip the hibernation probe (second idle period with heap snapshots)
  --no-log-cost        skip the logging-cost comparison (push1 on ours with LOG_LEVEL=info vs error)
  --log-cost-rounds N  rounds of that comparison (default 3; medians)
  --keep-logs          keep the wrangler logs (paths printed at the end)`

const parseArgs = (argv) => {
  const o = { quick: false, big: false, rounds: undefined, only: undefined, workloads: undefined, idleMs: 12_000, keepLogs: false, probe: true, logCost: true, logCostRounds: 3 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const [, inline] = a.split('=')
      if (inline !== undefined) return inline
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--quick') o.quick = true
    else if (a === '--big') o.big = true
    else if (a.startsWith('--rounds')) o.rounds = Number(val())
    else if (a.startsWith('--only')) o.only = val()
    else if (a.startsWith('--workloads')) o.workloads = val().split(',')
    else if (a.startsWith('--idle-ms')) o.idleMs = Number(val())
    else if (a === '--keep-logs') o.keepLogs = true
    else if (a === '--no-probe') o.probe = false
    else if (a === '--no-log-cost') o.logCost = false
    else if (a.startsWith('--log-cost-rounds')) o.logCostRounds = Number(val())
    else if (a === '--help' || a === '-h') {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}\n${usage}`)
  }
  if (o.only && !['ours', 'ref'].includes(o.only)) throw new Error('--only must be ours or ref')
  o.rounds ??= 1
  if (!(o.rounds >= 1)) throw new Error('--rounds must be >= 1')
  for (const w of o.workloads ?? []) if (!WORKLOADS.some((x) => x.key === w)) throw new Error(`unknown workload ${w}`)
  return o
}

const opts = parseArgs(process.argv.slice(2))
const cfg = opts.quick
  ? { push1Events: 200, push100Events: 2000, pullEvents: opts.big ? 20_000 : 1000, fanoutPullers: 10, fanoutPushes: 20, idleMs: opts.idleMs, probe: opts.probe }
  : { push1Events: 2000, push100Events: 20_000, pullEvents: opts.big ? 100_000 : 10_000, fanoutPullers: 50, fanoutPushes: 200, idleMs: opts.idleMs, probe: opts.probe }
const workloads = WORKLOADS.map((w, i) => ({ ...w, index: i + 1 })).filter((w) => !opts.workloads || opts.workloads.includes(w.key))
const kinds = opts.only ? [opts.only] : ['ours', 'ref']

// The config comes with the kind (tests/support/wrangler-dev.mjs): ours runs from a private copy of
// build/ with wrangler.toml minus its [build] table, so a rebuild cannot reload the worker mid-run.
const SERVER_SETUP = {
  ours: { vars: { AUTH_MODE: 'none' }, label: 'ours (Rust, build/)' },
  ref: { vars: {}, label: 'reference (@livestore/sync-cf@0.4.0, tests/reference/)' },
}
// The logging-cost comparison runs push1 on ours (LOG_LEVEL defaults to info)
// and on a second copy of ours that logs errors only.
const QUIET = { kind: 'ours', vars: { AUTH_MODE: 'none', LOG_LEVEL: 'error' } }
const logCost = opts.logCost && kinds.includes('ours') && (!opts.workloads || opts.workloads.includes('push1'))
if (kinds.includes('ours') && !existsSync(path.join(REPO, 'build/index.js'))) {
  console.error('build/index.js is missing: build the Rust worker first (this script never builds it).')
  process.exit(2)
}
if (kinds.includes('ref') && !existsSync(SOURCE_CONFIG.ref)) {
  console.error(`${SOURCE_CONFIG.ref} is missing (the reference worker: tests/reference/worker.ts + wrangler.toml).`)
  process.exit(2)
}

const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)

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
  log(`load average at start: ${loadAtStart.join(' ')} (${os.cpus().length} CPUs)`)
  log(`starting ${kinds.join(' and ')} under wrangler dev ...`)
  const servers = {}
  const results = []
  const logCostRuns = []
  try {
    // Both start in parallel; only one is ever under load at a time afterwards.
    const starting = kinds.map((k) => ({ key: k, kind: k, vars: SERVER_SETUP[k].vars }))
    if (logCost) starting.push({ key: 'ours-quiet', ...QUIET })
    const started = await Promise.allSettled(starting.map((s) => startServer({ kind: s.kind, env: s.vars, keepLogs: opts.keepLogs })))
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') servers[starting[i].key] = s.value
    })
    const failedStart = started.find((s) => s.status === 'rejected')
    if (failedStart) throw failedStart.reason
    for (const k of kinds) {
      const s = servers[k]
      log(`${k}: http://127.0.0.1:${s.port} ready in ${(s.readyMs / 1000).toFixed(1)} s; workerd pids ${s.procs.map((p) => `${p.pid}(${p.role})`).join(', ')}`)
    }
    for (const k of Object.keys(servers)) {
      log(`warming up ${k} ...`)
      await warmUp(servers[k])
    }

    for (const w of workloads) {
      const rounds = w.once ? 1 : opts.rounds
      for (let round = 0; round < rounds; round++) {
        const order = (round + w.index) % 2 === 1 ? kinds : [...kinds].reverse()
        for (const k of order) {
          log(`${w.key} round ${round + 1}/${rounds} on ${k} ...`)
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
    }
    if (logCost) {
      const push1 = WORKLOADS.find((w) => w.key === 'push1')
      for (let round = 0; round < opts.logCostRounds; round++) {
        for (const k of round % 2 ? ['ours-quiet', 'ours'] : ['ours', 'ours-quiet']) {
          log(`log cost round ${round + 1}/${opts.logCostRounds} on ${k} ...`)
          const r = await push1.run(servers[k], cfg)
          logCostRuns.push({ server: k, cpuPer1k: r.userWorkerCpuPer1kEventsS, allCpuPer1k: r.cpuPer1kEventsS })
          await sleep(300)
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
  }

  const rows = summarize(workloads, cfg, results)
  const totalS = (Date.now() - startedAt.getTime()) / 1000
  const idle = results.filter((r) => r.workload === 'idle' && r.ok)
  const probe = [...new Set(idle.map((r) => r.extra?.evictionProbe))].join(', ')

  const header = [
    `LiveStore sync backend benchmark: ${kinds.map((k) => SERVER_SETUP[k].label).join(' vs ')}`,
    `Servers: local wrangler dev (workerd) on 127.0.0.1, local observability off, fresh --persist-to folder each, started together, loaded one at a time.`,
    `Client: raw WebSocket client (ws package) in this Node process speaking the Effect RPC JSON frames directly (Ack after every Chunk, like the published client), so the client is not the bottleneck (see "client CPU").`,
    `Every workload uses a fresh store (= a fresh Durable Object); both servers were warmed up first. ${opts.rounds > 1 ? `Figures are medians of ${opts.rounds} rounds (idle: 1 round); the server that goes first alternates between rounds and workloads.` : 'One round per workload; the server that goes first alternates from workload to workload.'}`,
    `Server CPU = CPU time (utime+stime) of the wrangler-spawned workerd processes: the user worker + wrangler's proxy worker in front of it (its share is about the same for both servers), read per thread from /proc/<pid>/task/*/schedstat (ns precision; /proc/<pid>/stat utime+stime, 10 ms ticks, is in the JSON too). Wrangler's own Node process is not counted (the reference logs a line per push, which wrangler then prints; that CPU is in the JSON as wranglerNodeCpuS).`,
    `Machine: ${os.cpus().length} CPUs, load average at start ${loadAtStart.join(' ')}${opts.quick ? '; --quick counts' : ''}${opts.big ? '; --big' : ''}. Total run time ${totalS.toFixed(0)} s.`,
  ]
  const footer = []
  if (workloads.some((w) => w.key === 'idle')) {
    footer.push(
      `Idle: the socket stays open, nothing is sent (not even pings). "object hibernated/evicted while idle" comes from workerd's V8 inspector (${probe || 'n/a'}): in a second idle period on the same socket (kept apart from the measured one, snapshots disturb the isolate), heap snapshots of the worker isolate at its start and right before the next push; "yes" = workerd released the object's isolate-side state (native objects of the object and its hibernatable socket) while idle, i.e. hibernated/evicted it; "no" = nothing was released, the object stayed in memory; "-" = could not be determined. Details (released classes) in the JSON.`,
    )
  }
  const buildChanged = kinds.includes('ours') && buildStamp() !== stampAtStart
  if (buildChanged) footer.push('NOTE: build/ changed during the run; ours ran a private copy of build/ taken at its start, so its figures are for the build at start.')
  const failures = results.filter((r) => !r.ok)
  for (const f of failures) footer.push(`FAILED: ${f.workload} on ${f.server} (round ${f.round}): ${f.error.split('\n')[0]}`)

  if (logCostRuns.length) {
    const med = (k, f) => {
      const v = logCostRuns.filter((r) => r.server === k).map(f).sort((a, b) => a - b)
      return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
    }
    const info = med('ours', (r) => r.cpuPer1k)
    const quiet = med('ours-quiet', (r) => r.cpuPer1k)
    footer.unshift(
      `Logging cost (ours, ${cfg.push1Events} single-event pushes, medians of ${opts.logCostRounds} alternating rounds, user-worker workerd CPU): ` +
        `LOG_LEVEL=info (a "pushes" summary line per store every 10 s, refusals one by one) ${info.toFixed(3)} s per 1,000 events, LOG_LEVEL=error ${quiet.toFixed(3)} s; ` +
        `logging at info costs ${(((info - quiet) / quiet) * 100).toFixed(1)} % of push CPU.`,
    )
  }

  const text = [...header, '', renderTable(rows), '', ...footer].join('\n')
  console.log(text)

  const outDir = path.join(BENCH, 'results')
  mkdirSync(outDir, { recursive: true })
  const outFile = path.join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const meta = {
    startedAt: startedAt.toISOString(),
    totalS,
    args: process.argv.slice(2),
    build: { atStart: stampAtStart, changedDuringRun: buildChanged },
    counts: cfg,
    rounds: opts.rounds,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAvgAtStart: loadAtStart, node: process.version, platform: `${os.platform()} ${os.release()}` },
    client: 'raw WebSocket (ws), JSON frames, Ack per Chunk, one Node process',
    servers: Object.fromEntries(
      kinds.map((k) => [
        k,
        {
          label: SERVER_SETUP[k].label,
          config: path.relative(REPO, SOURCE_CONFIG[k]),
          vars: SERVER_SETUP[k].vars,
          readyMs: servers[k]?.readyMs,
          workerd: servers[k]?.procs,
          logFile: servers[k]?.keepLogs ? servers[k].logFile : undefined,
        },
      ]),
    ),
  }
  writeFileSync(outFile, JSON.stringify({ meta, summary: rows, results, logCostRuns, table: text }, null, 2))
  console.log(`\nJSON: ${path.relative(process.cwd(), outFile)}`)
  for (const k of kinds) if (servers[k]?.keepLogs) console.log(`wrangler log (${k}): ${servers[k].logFile}`)
  if (failures.length) process.exitCode = 1
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(1)
})
