// Linux /proc readers: process tree, CPU time, memory, listening ports, load average.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let clkTck
/** Clock ticks per second (utime/stime unit in /proc/<pid>/stat). */
export const ticksPerSecond = () => {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

/** Parsed /proc/<pid>/stat (only the fields we use), or undefined if the process is gone. */
export const readStat = (pid) => {
  let text
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // pid (comm) state ppid pgrp ... — comm may contain spaces and parentheses: split after the last ')'
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const comm = text.slice(open + 1, close)
  const f = text.slice(close + 2).split(' ')
  // f[0] = state (field 3), f[1] = ppid, f[2] = pgrp, f[11] = utime (field 14), f[12] = stime (field 15)
  return { pid, comm, state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), utime: Number(f[11]), stime: Number(f[12]) }
}

const allPids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)

/** All live descendants of `root` (not including root), found by walking ppid links. */
export const descendants = (root) => {
  const children = new Map()
  for (const pid of allPids()) {
    const st = readStat(pid)
    if (!st || st.state === 'Z') continue
    if (!children.has(st.ppid)) children.set(st.ppid, [])
    children.get(st.ppid).push(st)
  }
  const out = []
  const stack = [root]
  while (stack.length) {
    const p = stack.pop()
    for (const c of children.get(p) ?? []) {
      out.push(c)
      stack.push(c.pid)
    }
  }
  return out
}

export const cmdline = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

/** utime+stime in seconds (all threads), or undefined if gone. */
export const cpuSeconds = (pid) => {
  const st = readStat(pid)
  return st ? (st.utime + st.stime) / ticksPerSecond() : undefined
}

/**
 * CPU seconds of all threads of `pid` from /proc/<pid>/task/<tid>/schedstat (run time in ns):
 * the same quantity as utime+stime, without the 10 ms tick granularity. Undefined if unavailable.
 */
export const schedCpuSeconds = (pid) => {
  const t = threadCpuSeconds(pid)
  return t && t.main + t.background
}

/** {rssKb, hwmKb} from /proc/<pid>/status, or undefined if gone. */
export const memKb = (pid) => {
  let text
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const get = (k) => Number((text.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) ?? [])[1] ?? 0)
  return { rssKb: get('VmRSS'), hwmKb: get('VmHWM') }
}

/** [1-min, 5-min, 15-min] load averages. */
export const loadAvg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)

/** TCP ports on which `pid` listens (IPv4 loopback/any), from its socket fds and /proc/net/tcp. */
export const listeningPorts = (pid) => {
  const inodes = new Set()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)
        if (m) inodes.add(m[1])
      } catch {}
    }
  } catch {
    return []
  }
  const ports = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A') continue // 0A = LISTEN
      if (inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16))
    }
  }
  return [...new Set(ports)]
}

/**
 * CPU seconds of `pid` split by thread: `main` = threads named like the process (workerd's event
 * loop thread, where JS, Wasm, SQLite and socket I/O of the isolate run), `background` = the
 * others (V8 platform workers: concurrent compilation/tier-up, concurrent GC). From schedstat (ns).
 */
export const threadCpuSeconds = (pid) => {
  let tids
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  let main = 0
  let background = 0
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      if (comm === 'workerd') main += ns
      else background += ns
    } catch {}
  }
  return { main: main / 1e9, background: background / 1e9 }
}

/** Machine-wide CPU from /proc/stat: {busyS, totalS} (all CPUs; busy = user+nice+system+irq+softirq). */
export const machineCpu = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const hz = ticksPerSecond()
  const busy = f[0] + f[1] + f[2] + f[5] + f[6]
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return { busyS: busy / hz, totalS: total / hz, stealS: (f[7] ?? 0) / hz }
}
