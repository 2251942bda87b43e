// Starts one sync server under `wrangler dev` (local workerd), finds its workerd processes, meters
// their CPU time and memory, and stops the whole process group again.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { cmdline, cpuSeconds, descendants, groupAlive, memKb, schedCpuSeconds } from './procfs.mjs'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Keeps wrangler quiet and offline, local observability off (see shared TOOLCHAIN.md). */
export const QUIET_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  DO_NOT_TRACK: '1',
  X_LOCAL_OBSERVABILITY: 'false',
  X_LOCAL_EXPLORER: 'false',
  NO_COLOR: '1',
  SKIP_BUILD: '1', // never build the Rust worker from here: scripts/build.sh exits at once when build/ exists
}

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })

const running = new Set()
const killGroup = (pgid, sig) => {
  try {
    process.kill(-pgid, sig)
  } catch {}
}
const tempDirs = new Set()
// Never leave wrangler/workerd (or their temp folders) behind, whatever happens to this process.
process.on('exit', () => {
  for (const s of running) killGroup(s.pid, 'SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(130))
}

/**
 * A copy of a wrangler.toml without its [build] table, written next to nothing else: wrangler dev
 * re-runs the custom build and reloads the worker (dropping every socket with 1006) whenever a file
 * under the build's watch_dir (src/) changes, which must not happen in the middle of a benchmark.
 * Relative paths (main) are made absolute.
 */
export const configWithoutBuild = (configPath) => {
  const dir = path.dirname(configPath)
  const out = []
  let skipping = false
  for (const line of readFileSync(configPath, 'utf8').split('\n')) {
    const header = line.match(/^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/)
    if (header) skipping = header[1] === 'build' || header[1].startsWith('build.')
    if (skipping) continue
    const main = line.match(/^(\s*main\s*=\s*)"([^"]+)"(.*)$/)
    out.push(main ? `${main[1]}${JSON.stringify(path.resolve(dir, main[2]))}${main[3]}` : line)
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-config-'))
  tempDirs.add(tmp)
  const file = path.join(tmp, 'wrangler.toml')
  writeFileSync(file, out.join('\n'))
  return file
}

const tail = (file, n = 30) => {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * @param {object} o
 * @param {'ours'|'ref'} o.kind
 * @param {string} o.repo repository root
 * @param {string} o.config wrangler.toml to use
 * @param {Record<string,string>} [o.vars] worker vars (--var K:V)
 */
export const startServer = async ({ kind, repo, config, vars = {}, keepLogs = false }) => {
  const port = await freePort()
  const inspectorPort = await freePort()
  const persistTo = mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-state-`))
  tempDirs.add(persistTo)
  const logFile = path.join(os.tmpdir(), `bench-${kind}-${port}-${Date.now()}.log`)
  const nodeLocal = path.join(repo, 'node_modules/node/bin/node') // Node 22 (wrangler refuses Node 20)
  const nodeBin = existsSync(nodeLocal) ? nodeLocal : process.execPath
  const args = [
    path.join(repo, 'node_modules/wrangler/bin/wrangler.js'),
    'dev',
    '--config',
    config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--inspector-ip',
    '127.0.0.1',
    '--persist-to',
    persistTo,
    '--show-interactive-dev-session=false',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ]
  const fd = openSync(logFile, 'a')
  const t0 = performance.now()
  const child = spawn(nodeBin, args, {
    cwd: repo,
    env: { ...process.env, ...QUIET_ENV },
    stdio: ['ignore', fd, fd],
    detached: true, // own process group: stop() signals wrangler and its workerd children together
  })
  closeSync(fd)
  let exitInfo
  child.once('exit', (code, signal) => (exitInfo = { code, signal }))

  const server = {
    kind,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    persistTo,
    logFile,
    config,
    procs: [],
    readyMs: undefined,
    stop: async () => {
      if (!running.has(server)) return
      running.delete(server)
      killGroup(child.pid, 'SIGTERM')
      for (let i = 0; i < 100 && groupAlive(child.pid); i++) await sleep(50)
      killGroup(child.pid, 'SIGKILL')
      for (let i = 0; i < 100 && groupAlive(child.pid); i++) await sleep(50)
      if (groupAlive(child.pid)) throw new Error(`${kind}: process group ${child.pid} did not stop`)
      rmSync(persistTo, { recursive: true, force: true })
      tempDirs.delete(persistTo)
      if (!keepLogs && !server.keepLog) rmSync(logFile, { force: true })
    },
  }
  running.add(server)

  const deadline = Date.now() + 120_000
  for (;;) {
    if (exitInfo) {
      await server.stop()
      throw new Error(`wrangler dev (${kind}) exited early (${JSON.stringify(exitInfo)}). Log:\n${tail(logFile)}`)
    }
    try {
      const res = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) {
      await server.stop()
      throw new Error(`wrangler dev (${kind}) did not answer GET / within 120 s. Log:\n${tail(logFile)}`)
    }
    await sleep(200)
  }
  server.readyMs = performance.now() - t0

  // The workerd processes of this wrangler: the one started with --inspector-addr runs the user
  // worker (and the Durable Object); the other is wrangler's proxy worker on the public port.
  server.procs = descendants(child.pid)
    .filter((p) => p.comm === 'workerd')
    .map((p) => ({ pid: p.pid, role: cmdline(p.pid).some((a) => a.startsWith('--inspector-addr')) ? 'user' : 'proxy' }))
  server.others = descendants(child.pid)
    .filter((p) => p.comm !== 'workerd')
    .map((p) => ({ pid: p.pid, comm: p.comm }))
  if (server.procs.length === 0) {
    await server.stop()
    throw new Error(`${kind}: no workerd process found under wrangler pid ${child.pid}`)
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
 * Meters a server's workerd processes over a phase: CPU seconds (all workerd processes, and the
 * user-worker one alone), peak RSS sampled every `intervalMs`, VmHWM at the end.
 * CPU figures: `serverCpuS` = per-thread schedstat run time (ns precision) when the kernel exposes
 * it, else utime+stime; `serverCpuStatS` = utime+stime from /proc/<pid>/stat (10 ms ticks).
 */
export const startMeter = (server, { intervalMs = 100 } = {}) => {
  const user = server.procs.filter((p) => p.role === 'user')
  const cpu0 = cpuOf(server.procs)
  const cpuUser0 = cpuOf(user)
  const other0 = cpuOf(server.others)
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
      return {
        wallS,
        serverCpuS: delta(cpu0, cpu1),
        serverUserWorkerCpuS: delta(cpuUser0, cpuUser1),
        serverCpuStatS: cpu1.stat - cpu0.stat,
        serverUserWorkerCpuStatS: cpuUser1.stat - cpuUser0.stat,
        cpuSource: cpu1.sched !== undefined ? 'schedstat' : 'stat',
        wranglerNodeCpuS: delta(other0, cpuOf(server.others)),
        clientCpuS: (c.user + c.system) / 1e6,
        peakRssMb: peakRssKb / 1024,
        peakUserWorkerRssMb: peakUserRssKb / 1024,
        hwmMb: sumBy(server.procs, (pid) => memKb(pid)?.hwmKb) / 1024,
      }
    },
  }
}
