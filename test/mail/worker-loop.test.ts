import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type AttemptedEvent, DeliveryWorker, type Outbox, smtpTransport } from '../../src/mail/index.ts'
import { ManualClock, silentLogger } from '../helpers/env.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { harness } from '../helpers/outbox.ts'
import { freePort, until } from '../helpers/wait.ts'

/** A verdict that holds every message until `release()` answers them all. */
function gate() {
  const held: ((verdict: 'accept' | { code: number; message: string }) => void)[] = []
  return {
    held,
    verdict: () => new Promise<'accept' | { code: number; message: string }>((resolve) => held.push(resolve)),
    release: (verdict: 'accept' | { code: number; message: string } = 'accept') => {
      for (const resolve of held.splice(0)) resolve(verdict)
    },
  }
}

/** Every outcome the worker records, in order, as it is recorded. */
function recordedOutcomes(signals: Outbox['signals']): AttemptedEvent['outcome'][] {
  const outcomes: AttemptedEvent['outcome'][] = []
  signals.on('attempted', (event) => outcomes.push(event.outcome))
  return outcomes
}

/** Resolves at the worker's next lease renewal that reaches `leaseUntil` or later (outbox clock). */
function renewedTo(signals: Outbox['signals'], leaseUntil: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signals.off('renewed', renewed)
      reject(new Error(`no lease renewal to ${leaseUntil} or later in ${timeoutMs} ms`))
    }, timeoutMs)
    const renewed = (event: { leaseUntil: number }) => {
      if (event.leaseUntil < leaseUntil) return
      clearTimeout(timer)
      signals.off('renewed', renewed)
      resolve()
    }
    signals.on('renewed', renewed)
  })
}

describe('the running worker', () => {
  test('a commit wakes the in-process worker at once, with no poll wait', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_POLL: '1h' } })
    h.worker.start()
    await h.worker.whenIdle()
    const id = await h.send('ann@example.test')
    await h.outbox.waitFor(id, 'sent', { timeoutMs: 5_000 })
  })

  test('mail committed outside the wake-up helper is found by the slow poll', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_POLL: '100ms' } })
    h.worker.start()
    await h.worker.whenIdle()
    const id = await h.db.kysely.transaction().execute((trx) =>
      h.outbox.enqueue(trx, {
        template: 'system/test',
        to: 'ann@example.test',
        subject: 'Hello',
        context: { sentAt: 'noon', baseUrl: 'http://localhost:3000' },
      }),
    )
    await h.outbox.waitFor(id, 'sent', { timeoutMs: 5_000 })
  })

  test('SMTP down at enqueue and for two more attempts, then up: delivered without anyone acting', async () => {
    // The back-off runs on the outbox's clock: the test moves it to each retry's time, and the
    // worker's own poll finds the message due. Nobody calls the worker.
    const clock = new ManualClock()
    const port = await freePort()
    const h = await harness({
      clock,
      env: { MAIL_PORT: String(port), RAGTIME_MAIL_RETRY_FIRST: '500ms', RAGTIME_MAIL_RETRY_MAX: '2s', RAGTIME_MAIL_POLL: '50ms' },
    })
    const outcomes = recordedOutcomes(h.outbox.signals)
    h.worker.start()
    const id = await h.send('ann@example.test')
    let retryAt = clock.now()
    for (let n = 1; n <= 3; n++) {
      clock.advance(retryAt - clock.now())
      await until(() => outcomes.length === n, `failed attempt ${n}`)
      const failed = outcomes[n - 1]
      assert.ok(failed?.kind === 'retry', `attempt ${n} fails and is put off: ${JSON.stringify(failed)}`)
      assert.match(failed.error, /ECONNREFUSED|ECONNECTION/)
      assert.ok(failed.runAt > clock.now(), 'the retry waits for the back-off')
      retryAt = failed.runAt
    }
    const late = await startSmtpSink({ port })
    try {
      clock.advance(retryAt - clock.now())
      const sent = await h.outbox.waitFor(id, 'sent', { timeoutMs: 15_000 })
      assert.equal(sent.attempts, 4)
      assert.equal(late.received.length, 1)
    } finally {
      await h.worker.stop({ graceMs: 0 })
      await late.close()
    }
  })

  test('the SMTP server never sees more than RAGTIME_MAIL_MAX_CONNECTIONS connections', async () => {
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '1', RAGTIME_MAIL_MAX_CONNECTIONS: '3', RAGTIME_MAIL_BATCH_SIZE: '25' },
      sink: { verdict: () => new Promise((resolve) => setTimeout(() => resolve('accept'), 30)) },
    })
    for (let i = 0; i < 120; i++) await h.send(`user${i}@example.test`)
    h.worker.start()
    await h.sink.waitForAccepted(120)
    assert.ok(h.sink.connections.max <= 3, `max connections: ${h.sink.connections.max}`)
    assert.ok(h.sink.connections.max >= 2, 'from one connection, the pool grows while mail waits on a slow server')
  })

  test('stored messages are read a few dozen per query, however few connections send them', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '5', RAGTIME_MAIL_MAX_CONNECTIONS: '5', RAGTIME_MAIL_BATCH_SIZE: '100' } })
    for (let i = 0; i < 100; i++) await h.send(`user${i}@example.test`)
    const reads: number[] = []
    const bodies = h.outbox.store.bodies.bind(h.outbox.store)
    h.outbox.store.bodies = (ids) => {
      reads.push(ids.length)
      return bodies(ids)
    }
    h.worker.start()
    await h.sink.waitForAccepted(100)
    // A read per five messages (one per connection) cost a drain a tenth of its speed.
    assert.equal(reads.reduce((sum, n) => sum + n, 0), 100, `reads: ${reads.join(', ')}`)
    assert.ok(reads.length <= 5, `reads: ${reads.join(', ')}`)
  })

  test('the lease is renewed while a slow send runs: no other worker takes the message over', async () => {
    const g = gate()
    const clock = new ManualClock()
    const h = await harness({ clock, env: { RAGTIME_MAIL_LEASE: '1s' }, sink: { verdict: g.verdict } })
    const leaseMs = h.config.delivery.leaseMs
    const id = await h.send('ann@example.test')
    h.worker.start()
    await until(() => g.held.length === 1, 'the message in flight')
    // Over three lease lengths pass on the outbox's clock while the server sits on the message,
    // never a whole lease without a renewal.
    for (let step = 0; step < 4; step++) {
      clock.advance(leaseMs * 0.9)
      await renewedTo(h.outbox.signals, clock.now() + leaseMs)
    }
    // Half a lease on: past every lease but one that was renewed from the time now passed.
    clock.advance(leaseMs / 2)
    const other = new DeliveryWorker({
      outbox: h.outbox,
      transport: smtpTransport({ host: '127.0.0.1', port: h.sink.port, startTls: false, secure: false, username: undefined, password: undefined, maxConnections: 1 }),
      delivery: h.config.delivery,
      logger: silentLogger,
    })
    assert.equal((await other.runOnce()).claimed, 0, 'the claim is still held')
    await other.stop({ graceMs: 0 })
    g.release()
    const row = await h.outbox.waitFor(id, 'sent')
    assert.equal(row.attempts, 1)
    assert.equal(h.sink.received.length, 1)
  })

  test('stop: in-flight sends finish, claimed-but-unstarted mail is released', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '4', RAGTIME_MAIL_BATCH_SIZE: '20' }, sink: { verdict: g.verdict } })
    const ids: number[] = []
    for (let i = 0; i < 20; i++) ids.push(await h.send(`user${i}@example.test`))
    h.worker.start()
    await until(() => g.held.length === 4, 'four messages in flight')
    const stopped = h.worker.stop()
    g.release()
    await stopped
    const counts = (await h.outbox.status()).counts
    assert.equal(counts.sent, 4)
    assert.equal(counts.queued, 16)
    assert.equal(counts.sending, 0)
    const released = await h.outbox.list({ state: 'queued' })
    assert.ok(released.every((row) => row.attempts === 0), 'a released claim gives its attempt back')
  })

  test('stop: sends still running when the grace period ends are recorded as failed attempts', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_CONCURRENCY: '2' }, sink: { verdict: g.verdict } })
    for (let i = 0; i < 5; i++) await h.send(`user${i}@example.test`)
    h.worker.start()
    await until(() => g.held.length === 2, 'two messages in flight')
    await h.worker.stop({ graceMs: 200 })
    g.release({ code: 451, message: 'too late' })
    const counts = (await h.outbox.status()).counts
    assert.equal(counts.sending, 0)
    assert.equal(counts.retrying, 2)
    assert.equal(counts.queued, 3)
  })
})
