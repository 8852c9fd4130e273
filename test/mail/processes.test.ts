import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { outboxFromConfig } from '../../src/mail/index.ts'
import { spawnRagtime, whileRunning } from '../helpers/cli.ts'
import { testDb, testEnv } from '../helpers/env.ts'
import { startSmtpSink, type Verdict } from '../helpers/smtp-sink.ts'
import { loadConfig } from '../../src/config/index.ts'
import { until } from '../helpers/wait.ts'

/** A SQLite file with `count` test emails committed, and the environment to deliver them. */
async function queued(count: number, env: Record<string, string>) {
  const config = loadConfig(env)
  const db = await testDb(config)
  const outbox = outboxFromConfig(config, db)
  await transaction(db.kysely, async (trx) => {
    for (let i = 0; i < count; i++) {
      await outbox.enqueue(trx, {
        template: 'system/test',
        to: `user${i}@example.test`,
        subject: `Message ${i}`,
        context: { sentAt: String(i), baseUrl: 'http://localhost:3000' },
      })
    }
  })
  return { db, outbox }
}

const messageIds = (raws: { raw: string }[]) => raws.map(({ raw }) => /^Message-ID: (.+)$/im.exec(raw)?.[1]?.trim())

describe('worker processes', () => {
  test('a worker killed with SIGKILL mid-send: another takes over after the lease, every message once', async () => {
    let holding = true
    const held: ((verdict: Verdict) => void)[] = []
    const sink = await startSmtpSink({
      verdict: () => (holding ? new Promise<Verdict>((resolve) => held.push(resolve)) : 'accept'),
    })
    const env = testEnv({
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(sink.port),
      RAGTIME_MAIL_LEASE: '2s',
      RAGTIME_MAIL_POLL: '200ms',
    })
    const { db, outbox } = await queued(40, env)
    try {
      const doomed = spawnRagtime(['worker'], env)
      await until(() => held.length === 5, 'the first worker to have 5 messages in flight')
      doomed.child.kill('SIGKILL')
      await doomed.exited
      // The server never answered: those five were not accepted.
      holding = false
      for (const resolve of held.splice(0)) resolve({ code: 421, message: 'connection lost' })

      assert.equal((await outbox.status()).counts.sending, 40, 'the dead worker still holds its claims')
      const rescuer = spawnRagtime(['worker'], env)
      await sink.waitForAccepted(40, 30_000)
      await until(async () => (await outbox.status()).counts.sent === 40, 'all 40 recorded as sent')
      rescuer.child.kill('SIGTERM')
      assert.equal((await rescuer.exited).code, 0)

      assert.equal(sink.received.length, 40)
      assert.equal(new Set(messageIds(sink.received)).size, 40)
      const retaken = (await outbox.list({ limit: 100 })).filter((row) => row.attempts === 2)
      assert.equal(retaken.length, 40, 'every claim of the killed worker was taken over (attempt 2)')
    } finally {
      await db.close()
      await sink.close()
    }
  })

  // 1,000 messages keep both workers claiming side by side for hundreds of batches; the volume
  // itself is the benchmark's (npm run bench: delivery, scale-out), not the test suite's.
  test('two worker processes sharing one database, 1,000 messages: each delivered exactly once', { timeout: 120_000 }, async () => {
    const sink = await startSmtpSink()
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port), RAGTIME_MAIL_POLL: '100ms' })
    const { db, outbox } = await queued(1_000, env)
    try {
      const workers = [spawnRagtime(['worker'], env), spawnRagtime(['worker'], env)]
      await whileRunning(workers, sink.waitForAccepted(1_000, 90_000))
      await until(async () => (await outbox.status()).counts.sent === 1_000, 'all 1,000 recorded as sent')
      for (const w of workers) w.child.kill('SIGTERM')
      for (const w of workers) assert.equal((await w.exited).code, 0, w.stderr())

      assert.equal(sink.received.length, 1_000, 'no message sent twice')
      assert.equal(new Set(messageIds(sink.received)).size, 1_000)
      const recipients = new Set(sink.received.map((m) => m.envelope.to[0]))
      assert.equal(recipients.size, 1_000)
      const lockedBy = await db.kysely.selectFrom('mail_outbox').select('locked_by').distinct().execute()
      assert.deepEqual(lockedBy, [{ locked_by: null }], 'nothing left claimed')
    } finally {
      await db.close()
      await sink.close()
    }
  })

  test('SIGTERM with messages in flight: they finish, the process exits 0, nothing stays claimed', async () => {
    let offered = 0
    const sink = await startSmtpSink({
      verdict: () => {
        offered++
        return new Promise((resolve) => setTimeout(() => resolve('accept'), 300))
      },
    })
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port), RAGTIME_MAIL_CONCURRENCY: '5' })
    const { db, outbox } = await queued(50, env)
    try {
      const worker = spawnRagtime(['worker'], env)
      await until(() => offered >= 5, 'five messages in flight')
      worker.child.kill('SIGTERM')
      const exit = await worker.exited
      assert.equal(exit.code, 0, worker.stderr())
      const { counts } = await outbox.status()
      assert.equal(counts.sending, 0, 'nothing stays claimed')
      assert.ok(counts.sent >= 5, `the in-flight messages finished (sent: ${counts.sent})`)
      assert.equal(counts.sent, sink.received.length, 'what the server accepted is recorded as sent')
      assert.equal(counts.sent + counts.queued, 50)
    } finally {
      await db.close()
      await sink.close()
    }
  })

  test('a second signal exits at once, without waiting for the grace period', async () => {
    const sink = await startSmtpSink({ verdict: () => new Promise(() => {}) })
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port), RAGTIME_MAIL_SHUTDOWN_GRACE: '1h', RAGTIME_LOG_LEVEL: 'info' })
    const { db, outbox } = await queued(5, env)
    try {
      const worker = spawnRagtime(['worker'], env)
      await until(async () => (await outbox.status()).counts.sending > 0, 'messages in flight')
      worker.child.kill('SIGTERM')
      await until(() => /shutting down/.test(worker.stderr()), 'the first signal to be seen')
      worker.child.kill('SIGTERM')
      const exit = await worker.exited
      assert.equal(exit.code, 130, 'exited at once, not after the hour of grace')
      assert.match(worker.stderr(), /second signal: exiting now/)
    } finally {
      await db.close()
      await sink.close()
    }
  })
})
