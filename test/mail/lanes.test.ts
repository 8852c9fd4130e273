import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { BodyPrefetch } from '../../packages/outbox/src/body-prefetch.ts'
import { type Harness, harness } from '../helpers/outbox.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import type { Verdict } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'

// Issue 12, point 3: mail a person is waiting for (priority `high`) goes ahead of notices, even
// behind a large backlog of them, against a real SMTP server that takes its time.

const recipientOf = (raw: string): string => /^To: (.*)$/m.exec(raw)?.[1]?.trim() ?? ''
const messageIdOf = (raw: string): string => /^Message-ID: (.*)$/im.exec(raw)?.[1]?.trim() ?? ''
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Lets every held message through until `sent` are sent (bounded in time, like every wait here). */
async function drainGated(h: Harness, g: { release(): void }, sent: number) {
  await until(async () => {
    g.release()
    return (await h.outbox.status()).counts.sent >= sent
  }, `${sent} messages sent`, 20_000)
}

/** A verdict that holds every message until `release()` answers the ones held so far. */
function gate() {
  const held: ((verdict: Verdict) => void)[] = []
  const offered: string[] = []
  return {
    held,
    /** Recipients in the order the server saw their messages. */
    offered,
    verdict: (_n: number, raw: string) => {
      offered.push(recipientOf(raw))
      return new Promise<Verdict>((resolve) => held.push(resolve))
    },
    release: () => {
      for (const resolve of held.splice(0)) resolve('accept')
    },
    /** Answers the oldest message held: one connection comes free. */
    releaseOne: () => held.shift()?.('accept'),
  }
}

/** Enqueues `count` notices (priority normal) to notice<i>@example.test, 500 per transaction. */
async function enqueueNotices(h: Harness, count: number): Promise<number[]> {
  const ids: number[] = []
  for (let done = 0; done < count; done += 500) {
    await transaction(h.db.kysely, async (trx) => {
      for (let i = done; i < Math.min(count, done + 500); i++) {
        ids.push(
          await h.outbox.enqueue(trx, {
            template: 'system/test',
            to: `notice${i}@example.test`,
            subject: 'Notice',
            context: { sentAt: String(i), baseUrl: 'http://localhost:3000' },
          }),
        )
      }
    })
  }
  return ids
}

async function sendingCount(h: Harness): Promise<number> {
  return (await h.outbox.status()).counts.sending
}

describe('lanes: high-priority mail goes ahead of notices', () => {
  test('behind a backlog of notices and a slow server, each confirmation overtakes the backlog: few notices go out between its commit and its acceptance', async () => {
    // A thousand notices take the five connections well past the eight confirmations measured.
    const notices = 1_000
    const confirmations = 8
    // The server takes 50–100 ms per message; once the confirmations are measured it speeds up
    // so the backlog drains within the test's time.
    let slow = true
    const acceptedAt = new Map<string, number>()
    const h = await harness({
      // Five connections, fixed: more would drain the notices before the confirmations are measured.
      env: { RAGTIME_MAIL_MAX_CONNECTIONS: '5' },
      sink: {
        verdict: async (_n, raw): Promise<Verdict> => {
          if (slow) await sleep(50 + Math.random() * 50)
          acceptedAt.set(recipientOf(raw), performance.now())
          return 'accept'
        },
      },
    })
    await enqueueNotices(h, notices)
    h.worker.start()
    // Busy: every connection on a notice, and a batch of notices claimed.
    await h.sink.waitForAccepted(20)

    // Counted in messages, not milliseconds: a loaded machine stretches time, not the order. What
    // may go first: the notices on the five connections and those the worker had claimed already.
    const wentFirst: number[] = []
    const latencies: number[] = []
    for (let i = 0; i < confirmations; i++) {
      const to = `confirm${i}@example.test`
      await h.send(to, { priority: 'high' })
      const committedAt = performance.now()
      const noticesBefore = acceptedAt.size
      await until(() => acceptedAt.has(to), `${to} to be accepted`, 10_000)
      latencies.push((acceptedAt.get(to) as number) - committedAt)
      wentFirst.push(acceptedAt.size - 1 - noticesBefore)
      await sleep(100 + Math.random() * 200)
    }
    const noticesAccepted = h.sink.received.length - confirmations
    const report = `notices accepted between each confirmation's commit and its acceptance: ${wentFirst.join(', ')}; latencies ${latencies.map((ms) => Math.round(ms)).join(', ')} ms; ${noticesAccepted} of ${notices} notices out by then`
    console.log(`  # ${ON_POSTGRES ? 'PostgreSQL' : 'SQLite'}: ${report}`)
    for (const count of wentFirst) assert.ok(count <= 40, report)
    // Far ahead of the backlog: most notices were still waiting.
    assert.ok(noticesAccepted < notices / 2, report)

    slow = false
    await h.sink.waitForAccepted(notices + confirmations, 120_000)
    await until(async () => (await h.outbox.status()).counts.sent === notices + confirmations, 'every outcome recorded')
    const ids = h.sink.received.map((mail) => messageIdOf(mail.raw))
    assert.equal(new Set(ids).size, notices + confirmations, 'nothing was sent twice')
    const rows = await h.outbox.list({ state: 'sent', limit: notices + confirmations })
    assert.ok(rows.every((row) => row.attempts === 1))
  })

  test('a confirmation committed while the queue is full of notices is claimed at once and starts next', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '2', RAGTIME_MAIL_BATCH_SIZE: '10', RAGTIME_MAIL_POLL: '1h' }, sink: { verdict: g.verdict } })
    await enqueueNotices(h, 30)
    h.worker.start()
    await until(() => g.held.length === 2, 'two notices in flight')
    assert.equal(await sendingCount(h), 10)
    const id = await h.send('confirm@example.test', { priority: 'high' })
    // Claimed while both connections are busy, without waiting for a notice to finish.
    await until(async () => (await h.outbox.get(id))?.state === 'sending', 'the confirmation claimed', 5_000)
    assert.equal(await sendingCount(h), 11)
    // One connection comes free: the confirmation takes it, not the next notice.
    g.releaseOne()
    await until(() => g.offered.length === 3, 'the next message in flight')
    assert.equal(g.offered[2], 'confirm@example.test', `offered: ${g.offered.join(', ')}`)
    await drainGated(h, g, 31)
    assert.equal(h.sink.received.length, 31)
  })

  test('confirmations go ahead of notices claimed before them, in order, and the worker holds at most a batch plus `concurrency`', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '2', RAGTIME_MAIL_BATCH_SIZE: '10', RAGTIME_MAIL_POLL: '1h' }, sink: { verdict: g.verdict } })
    await enqueueNotices(h, 40)
    h.worker.start()
    await until(() => g.held.length === 2, 'two notices in flight')
    // Five confirmations while nothing finishes: the lane takes `concurrency` (2) past the batch.
    for (let i = 0; i < 5; i++) await h.send(`confirm${i}@example.test`, { priority: 'high' })
    await until(async () => (await sendingCount(h)) === 12, 'the lane claimed up to a batch plus concurrency', 5_000)
    await sleep(300)
    assert.equal(await sendingCount(h), 12, 'no more than a batch plus concurrency')
    // Each finished send makes room: the confirmations start in the order they were committed.
    await drainGated(h, g, 45)
    const confirms = g.offered.filter((to) => to.startsWith('confirm'))
    assert.deepEqual(confirms, ['confirm0', 'confirm1', 'confirm2', 'confirm3', 'confirm4'].map((c) => `${c}@example.test`))
    // All five went out before the notices that were claimed with the first batch were done.
    const lastConfirm = g.offered.indexOf('confirm4@example.test')
    assert.ok(lastConfirm <= 2 + 5 + 1, `offered: ${g.offered.join(', ')}`)
    assert.equal(new Set(h.sink.received.map((mail) => messageIdOf(mail.raw))).size, 45, 'nothing was sent twice')
  })

  test('the poll finds a confirmation committed by another process while the queue is full', async () => {
    const g = gate()
    // Two connections, fixed: with a third opening as the server sits on the mail, the notice
    // prefetched behind the confirmation could reach the server first.
    const env = { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '2', RAGTIME_MAIL_BATCH_SIZE: '10', RAGTIME_MAIL_POLL: '200ms' }
    const h = await harness({ env, sink: { verdict: g.verdict } })
    await enqueueNotices(h, 20)
    h.worker.start()
    await until(() => g.held.length === 2, 'two notices in flight')
    // A plain Kysely transaction: no after-commit hook wakes this worker (as for a commit made
    // by another SQLite process). On PostgreSQL its NOTIFY still does.
    const id = await h.db.kysely.transaction().execute((trx) =>
      h.outbox.enqueue(
        trx,
        { template: 'system/test', to: 'confirm@example.test', subject: 'Hello', context: { sentAt: 'noon', baseUrl: 'http://localhost:3000' } },
        { priority: 'high' },
      ),
    )
    await until(async () => (await h.outbox.get(id))?.state === 'sending', 'the confirmation claimed by the poll', 10_000)
    // One connection comes free: the confirmation takes it, not the next notice.
    g.releaseOne()
    await until(() => g.offered.length === 3, 'the next message in flight')
    assert.equal(g.offered[2], 'confirm@example.test', `offered: ${g.offered.join(', ')}`)
    await drainGated(h, g, 21)
  })

  test('an idle lane does not claim notices beyond the batch, and costs no more than one look per poll while busy', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '2', RAGTIME_MAIL_BATCH_SIZE: '10', RAGTIME_MAIL_POLL: '100ms' }, sink: { verdict: g.verdict } })
    await enqueueNotices(h, 30)
    const claims: (number | undefined)[] = []
    const claim = h.outbox.store.claim.bind(h.outbox.store)
    h.outbox.store.claim = (workerId, now, leaseUntil, limit, maxPriority) => {
      claims.push(maxPriority)
      return claim(workerId, now, leaseUntil, limit, maxPriority)
    }
    h.worker.start()
    await until(() => g.held.length === 2, 'two notices in flight')
    await sleep(1_000)
    assert.equal(await sendingCount(h), 10, 'notices held stay within the batch')
    const lane = claims.filter((p) => p !== undefined).length
    // One look per poll; on PostgreSQL other test files' NOTIFYs share the channel and wake the
    // worker too, and then the bound is the lane's own spacing: one look per 50 ms at most.
    const most = ON_POSTGRES ? 21 : 12
    assert.ok(lane >= 3 && lane <= most, `lane looks in 1 s with a 100 ms poll: ${lane}`)
    await drainGated(h, g, 30)
  })
})

describe('BodyPrefetch with the lane', () => {
  test('mail put at the head of the queue is loaded when taken, without pulling bodies from deep in the queue', async () => {
    const loads: number[][] = []
    const prefetch = new BodyPrefetch(
      {
        bodies: async (ids: readonly number[]) => {
          loads.push([...ids])
          return new Map(ids.map((id) => [id, `body ${id}`]))
        },
      },
      2,
    )
    const queue = (...ids: number[]) => ids.map((id) => ({ id }))
    assert.equal(await prefetch.take(1, queue(2, 3, 4, 5, 6, 7, 8, 9)), 'body 1')
    assert.deepEqual(loads, [[1, 2], [3, 4]])
    // Urgent mail 100, 101, 102 claimed and put first, one after another.
    assert.equal(await prefetch.take(100, queue(101, 102, 2, 3, 4, 5, 6, 7, 8, 9)), 'body 100')
    assert.equal(await prefetch.take(101, queue(102, 2, 3, 4, 5, 6, 7, 8, 9)), 'body 101')
    assert.equal(await prefetch.take(102, queue(2, 3, 4, 5, 6, 7, 8, 9)), 'body 102')
    for (const id of [100, 101, 102]) assert.ok(loads.some((ids) => ids.includes(id)))
    // Never beyond the first two chunks (2, 3, 4, 5) of what comes next.
    for (const ids of loads) for (const id of ids) assert.ok(id <= 5 || id >= 100, `loaded ${id}: ${JSON.stringify(loads)}`)
  })
})
