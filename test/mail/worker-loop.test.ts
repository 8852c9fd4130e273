import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DeliveryWorker, smtpTransport } from '../../src/mail/index.ts'
import { silentLogger } from '../helpers/env.ts'
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

  test('SMTP down at enqueue, up 5 s later: delivered without anyone acting', async () => {
    const port = await freePort()
    const h = await harness({
      env: { MAIL_PORT: String(port), RAGTIME_MAIL_RETRY_FIRST: '500ms', RAGTIME_MAIL_RETRY_MAX: '2s' },
    })
    h.worker.start()
    const id = await h.send('ann@example.test')
    const failed = await h.outbox.waitFor(id, 'retrying', { timeoutMs: 5_000 })
    assert.match(failed.lastError ?? '', /ECONNREFUSED|ECONNECTION/)
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const late = await startSmtpSink({ port })
    try {
      const sent = await h.outbox.waitFor(id, 'sent', { timeoutMs: 15_000 })
      assert.ok(sent.attempts >= 2)
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

  test('the lease is renewed while a slow send runs: no other worker takes the message over', async () => {
    const g = gate()
    const h = await harness({ env: { RAGTIME_MAIL_LEASE: '1s' }, sink: { verdict: g.verdict } })
    const id = await h.send('ann@example.test')
    h.worker.start()
    await until(() => g.held.length === 1, 'the message in flight')
    // Three lease lengths pass while the server sits on the message.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
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
