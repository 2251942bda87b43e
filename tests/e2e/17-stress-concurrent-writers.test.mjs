// Stress: 16 writers (one published makeWsSync client each, all in this process) commit events
// concurrently into one store. A writer behaves like LiveStore's leader (PROTOCOL.md 9.2): it keeps a
// live pull open, pushes its pending events on top of the head it has seen, and on ServerAheadError
// waits for its live pull to deliver the missing events, rebases its pending events onto the new head
// (new seqNum/parentSeqNum) and pushes again. Afterwards the server's log must be one intact chain
// 1..N holding every acknowledged event exactly once at the seqNum it was acknowledged with, and every
// writer's live pull must have seen exactly that sequence. A last event (a sentinel, N+1) closes the
// check for duplicates: once every live pull has it, anything sent before it has arrived.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inspect } from 'node:util'

import { failureOf, freshStoreId, makeClient, sleep, useServer, waitFor } from './harness.mjs'

const WRITERS = Number(process.env.E2E_STRESS_WRITERS ?? 16)
const EVENTS_PER_WRITER = Number(process.env.E2E_STRESS_EVENTS ?? 25)
const MAX_PUSH_EVENTS = 4 // a writer pushes at most this many pending events per request
const MAX_RETRIES_PER_WRITER = 1000 // ServerAheadError retries before a writer gives up
const TIME_LIMIT_MS = 45_000

const server = useServer()

const pad = (n, w = 2) => String(n).padStart(w, '0')

test(`${WRITERS} concurrent writers × ${EVENTS_PER_WRITER} events with LiveStore-style rebase on ServerAheadError`, async () => {
  const storeId = freshStoreId('stress')
  const N = WRITERS * EVENTS_PER_WRITER
  const writers = []
  const clients = []
  const lives = []
  let checker
  try {
    for (let k = 0; k < WRITERS; k++) {
      const client = await makeClient({ url: server.url, storeId, clientId: `writer-${pad(k)}`, timeoutMs: 30_000 })
      clients.push(client)
      const live = client.livePull()
      lives.push(live)
      writers.push({
        k,
        client,
        live,
        pending: [], // committed, not yet acknowledged: {uid, n}
        acked: new Map(), // uid -> seqNum it was acknowledged with
        retries: 0,
        pushes: 0,
      })
    }
    // every live pull has delivered its (empty) history part before anyone writes
    await waitFor('the history part of every live pull', () => lives.every((l) => l.items.length >= 1), 15_000)

    const started = Date.now()
    const deadline = started + TIME_LIMIT_MS
    const event = (w, p, seqNum) => ({
      name: 'todoCreated-v1',
      args: { id: p.uid, writer: w.k, n: p.n, text: `todo ${p.n} by writer ${w.k}` },
      seqNum,
      parentSeqNum: seqNum - 1,
      clientId: `writer-${pad(w.k)}`,
      sessionId: `session-${pad(w.k)}`,
    })
    /** Upstream head as LiveStore knows it: the last event its live pull delivered. */
    const liveHead = (w) => w.live.events().at(-1)?.eventEncoded.seqNum ?? 0

    // Commits: each writer commits its events in small bursts (1–3) at random moments, while its
    // push loop runs, so pending events pile up during retries as they do in a real client.
    const commitLoop = async (w) => {
      let n = 0
      while (n < EVENTS_PER_WRITER) {
        const burst = Math.min(1 + Math.floor(Math.random() * 3), EVENTS_PER_WRITER - n)
        for (let i = 0; i < burst; i++, n++) w.pending.push({ uid: `w${pad(w.k)}-e${pad(n)}`, n })
        await sleep(Math.floor(Math.random() * 40))
      }
    }

    const pushLoop = async (w) => {
      let head = 0
      while (w.acked.size < EVENTS_PER_WRITER) {
        if (Date.now() > deadline) {
          throw new Error(`writer ${w.k}: time limit: ${w.acked.size}/${EVENTS_PER_WRITER} acknowledged, ${w.retries} retries`)
        }
        if (w.pending.length === 0) {
          await sleep(2)
          continue
        }
        // (re)base the pending events on the newest head this writer knows
        head = Math.max(head, liveHead(w))
        const slice = w.pending.slice(0, MAX_PUSH_EVENTS)
        const batch = slice.map((p, i) => event(w, p, head + i + 1))
        w.pushes++
        const exit = await w.client.pushExit(batch)
        const err = failureOf(exit)
        if (exit._tag === 'Success') {
          w.pending.splice(0, slice.length)
          for (const e of batch) w.acked.set(e.args.id, e.seqNum)
          head = batch.at(-1).seqNum
          continue
        }
        if (err?._tag !== 'ServerAheadError') {
          throw new Error(`writer ${w.k}: unexpected push failure: ${inspect(err ?? exit.cause, { depth: 6 })}`)
        }
        w.retries++
        if (w.retries > MAX_RETRIES_PER_WRITER) {
          throw new Error(`writer ${w.k}: more than ${MAX_RETRIES_PER_WRITER} ServerAheadError retries (${w.acked.size} acknowledged)`)
        }
        assert.equal(err.providedNum, head, `writer ${w.k}: providedNum is the parent we sent`)
        assert.ok(
          err.minimumExpectedNum > head,
          `writer ${w.k}: ServerAheadError{minimumExpectedNum: ${err.minimumExpectedNum}} not ahead of the head ${head} the writer pushed on`,
        )
        // LiveStore parks the push until its live pull has delivered the missing events
        await waitFor(
          `writer ${w.k}: live pull to reach seqNum ${err.minimumExpectedNum}`,
          () => liveHead(w) >= err.minimumExpectedNum,
          Math.max(1, deadline - Date.now()),
          { intervalMs: 5, observe: () => `live head ${liveHead(w)}` },
        )
      }
    }

    // While writing: each live pull must keep delivering a gap-free, duplicate-free chain.
    let checkFailure
    const checkLive = () => {
      for (const w of writers) {
        const evs = w.live.events()
        for (let i = w.checked ?? 0; i < evs.length; i++) {
          const e = evs[i].eventEncoded
          if (e.seqNum !== i + 1 || e.parentSeqNum !== i) {
            checkFailure ??= new Error(`writer ${w.k}: live pull item ${i} is seqNum ${e.seqNum} (parent ${e.parentSeqNum}), expected ${i + 1}`)
          }
        }
        w.checked = evs.length
      }
    }
    checker = setInterval(checkLive, 20)

    await Promise.all(writers.map((w) => Promise.all([commitLoop(w), pushLoop(w)])))
    const writeMs = Date.now() - started
    // broadcasts leave before the ack, so every live pull gets all N events promptly
    await waitFor('every live pull to deliver all events', () => lives.every((l) => l.events().length >= N), 15_000, { observe: () => lives.map((l) => l.events().length) })
    const convergeMs = Date.now() - started
    // the sentinel: broadcasts leave in log order, so once a live pull has it, any duplicate or
    // extra delivery of events 1..N has reached that live pull before it
    const sentinel = {
      name: 'todoCreated-v1',
      args: { id: 'sentinel', text: 'the sentinel after the stress' },
      seqNum: N + 1,
      parentSeqNum: N,
      clientId: 'writer-00',
      sessionId: 'session-00',
    }
    await writers[0].client.push([sentinel])
    await waitFor('the sentinel (event N+1) on every live pull', () => lives.every((l) => l.events().some((b) => b.eventEncoded.args?.id === 'sentinel')), 15_000, {
      observe: () => lives.map((l) => l.events().length),
    })
    clearInterval(checker)
    checkLive()
    if (checkFailure) throw checkFailure

    const retries = writers.reduce((s, w) => s + w.retries, 0)
    const pushes = writers.reduce((s, w) => s + w.pushes, 0)
    console.log(
      `stress: ${N} events, ${WRITERS} writers, ${pushes} pushes (${pushes - retries} accepted), ` +
        `${retries} ServerAheadError retries (max ${Math.max(...writers.map((w) => w.retries))} for one writer), ` +
        `all acknowledged in ${writeMs} ms, all live pulls converged in ${convergeMs} ms`,
    )

    // one fresh client's non-live pull from None: the whole log
    const fresh = await makeClient({ url: server.url, storeId, clientId: 'checker' })
    clients.push(fresh)
    const items = await fresh.collectPull()
    const log = items.flatMap((i) => i.batch)
    assert.equal(log.length, N + 1, `the log holds ${log.length} events, expected ${N} and the sentinel`)
    assert.deepEqual(log.at(-1).eventEncoded, sentinel, 'the sentinel is the last event')
    const evs = log.slice(0, N).map((b) => b.eventEncoded)
    evs.forEach((e, i) => {
      assert.equal(e.seqNum, i + 1, `event ${i}: seqNum`)
      assert.equal(e.parentSeqNum, i, `event ${i}: parentSeqNum`)
    })
    const uids = evs.map((e) => e.args.id)
    assert.equal(new Set(uids).size, N, 'no event stored twice')
    const position = new Map(uids.map((u, i) => [u, i + 1]))
    for (const w of writers) {
      for (const [uid, seqNum] of w.acked) {
        assert.equal(position.get(uid), seqNum, `acknowledged ${uid} is stored at the seqNum it was acknowledged with`)
      }
      // a writer's events keep their commit order (rebasing preserves the pending order)
      const mine = evs.filter((e) => e.args.writer === w.k).map((e) => e.args.n)
      assert.deepEqual(mine, Array.from({ length: EVENTS_PER_WRITER }, (_, n) => n), `writer ${w.k}: all its events, in commit order`)
      for (const e of evs.filter((x) => x.args.writer === w.k)) assert.equal(e.clientId, `writer-${pad(w.k)}`)
    }

    // every writer's live pull saw exactly the stored sequence (same events, same createdAt), once,
    // up to the sentinel
    const stored = log.map((b) => ({ e: b.eventEncoded, createdAt: b.metadata.value.createdAt }))
    for (const w of writers) {
      const seen = w.live.events().map((b) => ({ e: b.eventEncoded, createdAt: b.metadata.value.createdAt }))
      assert.equal(seen.length, N + 1, `writer ${w.k}: live pull delivered ${seen.length} events, expected exactly ${N} and the sentinel`)
      assert.deepEqual(seen, stored, `writer ${w.k}: live pull converged on the stored log`)
    }
  } finally {
    clearInterval(checker)
    for (const l of lives) await l.stop().catch(() => {})
    for (const c of clients) await c.close().catch(() => {})
  }
})
