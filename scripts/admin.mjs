#!/usr/bin/env node
// The admin CLI: a thin client of the Worker's admin API (README "Admin API").
//
//   npm run admin -- info   --url URL --store ID
//   npm run admin -- export --url URL --store ID --out FILE [--since N]
//   npm run admin -- import --url URL --store ID --in FILE [--page N]
//   npm run admin -- reset  --url URL --store ID --confirm ID
//
// The secret comes from the environment: ADMIN_SECRET (never a flag, so it stays out of shell
// history and process lists). Export and import show progress (events done, events/s, time left)
// on stderr.
//
// Export is resumable: when FILE already holds events, it continues after the last complete line
// (a cut-off last line is dropped first), and it asks again where a stream ended early. Import is
// resumable too: lines the store already has (seqNum at or below its head) are skipped, so running
// the same import again after a failure continues where it stopped.
import { createReadStream, existsSync, openSync, readSync, closeSync, fstatSync, ftruncateSync, createWriteStream, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'

const USAGE = `usage: npm run admin -- <info|export|import|reset> --url URL --store ID [options]
  export: --out FILE [--since N]      import: --in FILE [--page N (default 5000)]
  reset:  --confirm ID (the store id again)
  the secret is read from the environment variable ADMIN_SECRET`

const fail = (message, code = 1) => {
  console.error(message)
  process.exit(code)
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    store: { type: 'string' },
    out: { type: 'string' },
    in: { type: 'string' },
    since: { type: 'string' },
    page: { type: 'string', default: '5000' },
    confirm: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
const command = positionals[0]
if (opts.help || !['info', 'export', 'import', 'reset'].includes(command)) fail(USAGE, opts.help ? 0 : 2)
if (!opts.url || opts.store === undefined) fail(`--url and --store are required\n${USAGE}`, 2)
const secret = process.env.ADMIN_SECRET
if (!secret) fail('ADMIN_SECRET is not set in the environment', 2)

const base = `${opts.url.replace(/\/+$/, '')}/admin/stores/${encodeURIComponent(opts.store)}`
const headers = { authorization: `Bearer ${secret}` }

/** A request to the admin API; throws with the server's reason on a non-2xx answer. */
const call = async (path, init = {}) => {
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...headers, ...init.headers } })
  if (!res.ok) {
    const text = await res.text()
    let reason = text
    try {
      reason = JSON.parse(text).error ?? text
    } catch {}
    const e = new Error(`${res.status}: ${reason}`)
    e.status = res.status
    e.body = text
    throw e
  }
  return res
}

const info = async () => (await call('')).json()

// ---------------------------------------------------------------------------------------------
// Progress: events done, events/s, time left
// ---------------------------------------------------------------------------------------------

const progress = (label, total) => {
  const started = Date.now()
  let last = 0
  const fmt = (n) => Math.round(n).toLocaleString('en-US')
  const render = (done, final = false) => {
    const now = Date.now()
    if (!final && now - last < (process.stderr.isTTY ? 100 : 2000)) return
    last = now
    const secs = Math.max((now - started) / 1000, 0.001)
    const rate = done / secs
    const left = total > done && rate > 0 ? `${Math.ceil((total - done) / rate)} s left` : final ? `${secs.toFixed(1)} s` : '…'
    const width = 24
    const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : width
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`
    const text = `${label} ${bar} ${fmt(done)}/${fmt(total)} events  ${fmt(rate)} events/s  ${left}`
    if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K${final ? '\n' : ''}`)
    else process.stderr.write(`${text}\n`)
  }
  return { update: (done) => render(done), done: (done) => render(done, true) }
}

// ---------------------------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------------------------

/** The seqNum of the last complete line of `file`, after cutting off an incomplete last line. */
const resumePoint = (file) => {
  if (!existsSync(file) || statSync(file).size === 0) return 0
  const fd = openSync(file, 'r+')
  try {
    const size = fstatSync(fd).size
    // read backwards until the last newline before the end, and the one before it
    const chunk = Buffer.alloc(Math.min(size, 8 * 1024 * 1024))
    readSync(fd, chunk, 0, chunk.length, size - chunk.length)
    const text = chunk.toString('utf8')
    let end = text.lastIndexOf('\n')
    if (end < text.length - 1) {
      // a cut-off line at the end: drop it
      ftruncateSync(fd, size - (text.length - (end + 1)))
    }
    if (end < 0) return 0
    const start = text.lastIndexOf('\n', end - 1)
    const line = text.slice(start + 1, end)
    const seqNum = JSON.parse(line).seqNum
    if (!Number.isInteger(seqNum)) throw new Error('no seqNum')
    return seqNum
  } catch (e) {
    fail(`${file} does not end with an exported event (${e.message}); move it away or choose another --out`)
  } finally {
    closeSync(fd)
  }
}

const exportStore = async () => {
  if (!opts.out) fail('export needs --out FILE', 2)
  const { head } = await info()
  let since = opts.since !== undefined ? Number(opts.since) : resumePoint(opts.out)
  if (!Number.isInteger(since) || since < 0) fail('--since must be a seqNum (0 or more)', 2)
  if (since > 0) console.error(`resuming after seqNum ${since}`)
  const total = Math.max(head - since, 0)
  const bar = progress('export', total)
  const out = createWriteStream(opts.out, { flags: opts.since !== undefined ? 'w' : 'a' })
  let done = 0
  let attempts = 0
  while (since < head) {
    const before = since
    let res
    try {
      res = await call(`/events?since=${since}`)
    } catch (e) {
      if (++attempts > 5) throw e
      await new Promise((r) => setTimeout(r, 1000 * attempts))
      continue
    }
    let pending = ''
    try {
      for await (const chunk of res.body) {
        pending += Buffer.from(chunk).toString('utf8')
        const end = pending.lastIndexOf('\n')
        if (end < 0) continue
        const lines = pending.slice(0, end + 1)
        pending = pending.slice(end + 1)
        if (!out.write(lines)) await new Promise((r) => out.once('drain', r))
        const count = (lines.match(/\n/g) ?? []).length
        done += count
        since = JSON.parse(lines.slice(lines.lastIndexOf('\n', lines.length - 2) + 1)).seqNum
        bar.update(done)
      }
    } catch (e) {
      // the stream broke: ask again from the last complete line
      if (++attempts > 5) throw e
      console.error(`\nthe stream stopped (${e.message}); continuing after seqNum ${since}`)
      continue
    }
    if (pending.trim()) throw new Error('the export ended in the middle of a line')
    if (since === before) break // nothing more to read (the log ends before the head it reported)
  }
  await new Promise((r) => out.end(r))
  bar.done(done)
  console.error(`exported ${done.toLocaleString('en-US')} events to ${opts.out} (last seqNum ${since}, head ${head})`)
}

// ---------------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------------

const countLines = async (file) => {
  let n = 0
  for await (const chunk of createReadStream(file)) for (const b of chunk) if (b === 10) n++
  return n
}

const importStore = async () => {
  if (!opts.in) fail('import needs --in FILE', 2)
  if (!existsSync(opts.in)) fail(`${opts.in} does not exist`, 2)
  const pageSize = Number(opts.page)
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) fail('--page must be 1..10000', 2)
  let { head } = await info()
  const total = await countLines(opts.in)
  const bar = progress('import', total)
  let done = 0
  let skipped = 0
  let page = []
  let pageBytes = 0
  // a request body stays well under the server's MAX_MESSAGE_BYTES (4 MiB by default)
  const PAGE_MAX_BYTES = 3 * 1024 * 1024
  let lineNo = 0
  let pageStart = 0
  const send = async () => {
    if (page.length === 0) return
    try {
      const res = await call('/events', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: page.join('\n') + '\n' })
      head = (await res.json()).head
    } catch (e) {
      // the server validated the whole page before writing any of it: the store is at its head
      const line = /^\d+: line (\d+):/.exec(e.message)
      const where = line ? ` (line ${pageStart + Number(line[1])} of ${opts.in})` : ''
      bar.done(done)
      fail(`import stopped${where}: ${e.message}\nthe store holds everything before it: head ${head}, ${done} events imported now; fix the file and run the same command again to continue`)
    }
    done += page.length
    bar.update(done + skipped)
    page = []
    pageBytes = 0
  }
  const lines = createInterface({ input: createReadStream(opts.in), crlfDelay: Infinity })
  for await (const line of lines) {
    lineNo++
    if (!line.trim()) continue
    // lines the store already has are skipped: re-running an import continues it
    const seq = /"seqNum":(\d+)/.exec(line)
    if (seq && Number(seq[1]) <= head && page.length === 0) {
      skipped++
      continue
    }
    const bytes = Buffer.byteLength(line) + 1
    if (page.length > 0 && pageBytes + bytes > PAGE_MAX_BYTES) await send()
    if (page.length === 0) pageStart = lineNo - 1
    page.push(line)
    pageBytes += bytes
    if (page.length >= pageSize) await send()
  }
  await send()
  bar.done(done + skipped)
  console.error(`imported ${done.toLocaleString('en-US')} events${skipped ? `, skipped ${skipped.toLocaleString('en-US')} the store already had` : ''}; head ${head}`)
}

// ---------------------------------------------------------------------------------------------

try {
  if (command === 'info') console.log(JSON.stringify(await info(), null, 2))
  else if (command === 'export') await exportStore()
  else if (command === 'import') await importStore()
  else if (command === 'reset') {
    if (opts.confirm !== opts.store) fail(`reset deletes every event of ${opts.store}: add --confirm ${opts.store}`, 2)
    const res = await call('/reset', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ confirm: opts.store }) })
    console.log(JSON.stringify(await res.json(), null, 2))
  }
} catch (e) {
  fail(`${command} failed: ${e.message}`)
}
