// Starts one sync server under `wrangler dev` (local workerd) through the e2e suite's shared
// starter, finds its workerd processes, and meters their CPU time and memory.
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { startServer as startWranglerDev } from '../../tests/support/wrangler-dev.mjs'
import { cmdline, cpuSeconds, descendants, machineCpu, memKb, schedCpuSeconds, threadCpuSeconds } from './procfs.mjs'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * A started server (see tests/support/wrangler-dev.mjs) plus what the meters need: `procs` = its
 * workerd processes with their role, `others` = its other processes (wrangler's Node), `readyMs`.
 * Setting `server.keepLogs = true` before stop() keeps its log (e.g. after a failed workload).
 *
 * @param {object} o
 * @param {'ours'|'ref'|'floor'|'app'} o.kind  (app: an app Worker's folder, bench/lib/pkg.mjs)
 * @param {Record<string,string>} [o.env] worker vars (--var K:V)
 * @param {string} [o.config] ref and app: the wrangler.toml to run (see tests/support/wrangler-dev.mjs)
 * @param {boolean} [o.keepLogs]
 * @param {boolean} [o.d1] ours with the local D1 database (and the var STORAGE=d1 in `env`)
 */
/** The metering wrappers of ours and the floor (bench/usage; the reference's is its bench/reference/worker.ts). */
const USAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../usage')
const METERED_ENTRY = { ours: path.join(USAGE, 'ours.mjs'), floor: path.join(USAGE, 'floor.mjs') }

export const startServer = async ({ kind, env = {}, keepLogs = false, config, d1 = false }) => {
  const t0 = performance.now()
  const server = await startWranglerDev({ kind, env, keepLogs, tag: 'bench', config, d1, meteredEntry: METERED_ENTRY[kind] })
  server.readyMs = performance.now() - t0

  // The workerd processes of this wrangler: the one started with --inspector-addr runs the user
  // worker (and the Durable Object); the other is wrangler's proxy worker on the public port.
  const tree = descendants(server.pid)
  server.procs = tree
    .filter((p) => p.comm === 'workerd')
    .map((p) => ({ pid: p.pid, role: cmdline(p.pid).some((a) => a.startsWith('--inspector-addr')) ? 'user' : 'proxy' }))
  server.others = tree.filter((p) => p.comm !== 'workerd').map((p) => ({ pid: p.pid, comm: p.comm }))
  if (server.procs.length === 0) {
    await server.stop()
    throw new Error(`${kind}: no workerd process found under wrangler pid ${server.pid}`)
  }
  return server
}

const sumBy = (procs, f) => procs.reduce((a, p) => a + (f(p.pid) ?? 0), 0)

/** CPU seconds of a set of processes: per-thread schedstat (ns) where available, else utime+stime. */
const cpuOf = (procs) => {
  let sched = 0
  let stat = 0
  let schedOk = true
  for (const p of procs) {
    const a = schedCpuSeconds(p.pid)
    if (a === undefined) schedOk = false
    else sched += a
    stat += cpuSeconds(p.pid) ?? 0
  }
  return { sched: schedOk ? sched : undefined, stat }
}

/**
 * Meters a server's workerd processes over a phase: CPU seconds (all workerd processes, the
 * user-worker one alone and split into its main thread and V8's background threads, wrangler's
 * proxy workerd), peak RSS sampled every `intervalMs`, VmHWM at the end, this client's CPU, and the
 * machine's CPU use meanwhile (to see what else competed for the cores).
 * CPU figures: `serverCpuS` = per-thread schedstat run time (ns precision) when the kernel exposes
 * it, else utime+stime; `serverCpuStatS` = utime+stime from /proc/<pid>/stat (10 ms ticks).
 * The user-worker workerd runs the Worker and the Durable Object: its CPU is what Cloudflare would
 * bill as CPU time (`serverUserWorkerCpuS`); the proxy workerd is wrangler's local dev proxy, which
 * does not exist in production.
 */
export const startMeter = (server, { intervalMs = 100 } = {}) => {
  const user = server.procs.filter((p) => p.role === 'user')
  const proxy = server.procs.filter((p) => p.role === 'proxy')
  const threads = () => {
    let main = 0
    let background = 0
    for (const p of user) {
      const t = threadCpuSeconds(p.pid)
      if (t) {
        main += t.main
        background += t.background
      }
    }
    return { main, background }
  }
  const cpu0 = cpuOf(server.procs)
  const cpuUser0 = cpuOf(user)
  const cpuProxy0 = cpuOf(proxy)
  const threads0 = threads()
  const other0 = cpuOf(server.others)
  const machine0 = machineCpu()
  const client0 = process.cpuUsage()
  const t0 = performance.now()
  let peakRssKb = 0
  let peakUserRssKb = 0
  const sample = () => {
    const rss = sumBy(server.procs, (pid) => memKb(pid)?.rssKb)
    const urss = sumBy(user, (pid) => memKb(pid)?.rssKb)
    if (rss > peakRssKb) peakRssKb = rss
    if (urss > peakUserRssKb) peakUserRssKb = urss
  }
  const userRssAtStartMb = sumBy(user, (pid) => memKb(pid)?.rssKb) / 1024
  sample()
  const timer = setInterval(sample, intervalMs)
  const delta = (a, b) => (a.sched !== undefined && b.sched !== undefined ? b.sched - a.sched : b.stat - a.stat)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      const wallS = (performance.now() - t0) / 1000
      const c = process.cpuUsage(client0)
      const cpu1 = cpuOf(server.procs)
      const cpuUser1 = cpuOf(user)
      const threads1 = threads()
      const machine1 = machineCpu()
      const serverCpuS = delta(cpu0, cpu1)
      const wranglerNodeCpuS = delta(other0, cpuOf(server.others))
      const clientCpuS = (c.user + c.system) / 1e6
      const machineBusyS = machine1.busyS - machine0.busyS
      return {
        wallS,
        serverCpuS,
        serverUserWorkerCpuS: delta(cpuUser0, cpuUser1),
        serverUserWorkerMainThreadCpuS: threads1.main - threads0.main,
        serverUserWorkerBackgroundCpuS: threads1.background - threads0.background,
        serverProxyCpuS: delta(cpuProxy0, cpuOf(proxy)),
        serverCpuStatS: cpu1.stat - cpu0.stat,
        serverUserWorkerCpuStatS: cpuUser1.stat - cpuUser0.stat,
        cpuSource: cpu1.sched !== undefined ? 'schedstat' : 'stat',
        wranglerNodeCpuS,
        clientCpuS,
        // the machine's busy CPU (all processes, /proc/stat, 10 ms ticks) and what is left after
        // this server's processes and this client: other work competing for the cores
        machineBusyCores: machineBusyS / wallS,
        otherProcessesCores: Math.max(0, machineBusyS - serverCpuS - wranglerNodeCpuS - clientCpuS) / wallS,
        stealCores: (machine1.stealS - machine0.stealS) / wallS,
        peakRssMb: peakRssKb / 1024,
        peakUserWorkerRssMb: peakUserRssKb / 1024,
        userWorkerRssAtStartMb: userRssAtStartMb,
        hwmMb: sumBy(server.procs, (pid) => memKb(pid)?.hwmKb) / 1024,
      }
    },
  }
}

/** Current RSS (MB) of the user-worker workerd. */
export const userWorkerRssMb = (server) => sumBy(server.procs.filter((p) => p.role === 'user'), (pid) => memKb(pid)?.rssKb) / 1024
