import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { notifyChannel } from '@ragtime/outbox'
import { loadConfig } from '../../src/config/index.ts'
import { transaction } from '../../src/db/index.ts'
import { DeliveryWorker, outboxFromConfig, smtpTransport } from '../../src/mail/index.ts'
import { freePort } from '../helpers/browser.ts'
import { spawnRagtime, type Spawned } from '../helpers/cli.ts'
import { silentLogger, testDb, testEnv } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'

const onlyPostgres = ON_POSTGRES ? undefined : 'scale-out runs on the PostgreSQL pass'

async function started(process: Spawned, banner: RegExp) {
  await until(() => banner.test(process.stderr()), `${banner}`, 20_000)
}

/** n sign-ups over HTTP, spread round-robin over `ports`, `concurrency` at a time. */
async function signUps(ports: number[], n: number, concurrency = 16) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++
        const response = await fetch(`http://127.0.0.1:${ports[i % ports.length]}/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ email: `user${i}@example.test`, username: `user${i}`, password: 'password one' }),
        })
        await response.arrayBuffer()
        assert.equal(response.status, 202)
      }
    }),
  )
}

/** Two `serve --no-worker` instances and three `worker` processes on one database. */
async function cluster(env: Record<string, string>) {
  const ports = [await freePort(), await freePort()]
  const web = ports.map((port) => spawnRagtime(['serve', '--no-worker'], { ...env, HOST: '127.0.0.1', PORT: String(port) }))
  for (const w of web) await started(w, /Ragtime is running/)
  const workers = [0, 1, 2].map(() => spawnRagtime(['worker'], env))
  for (const w of workers) await started(w, /mail worker started/)
  return { ports, web, workers }
}

function environment(sinkPort: number) {
  return testEnv({
    MAIL_SERVER: '127.0.0.1',
    MAIL_PORT: String(sinkPort),
    SECRET_KEY: 'scale-out-secret-key-scale-out-secret-key',
    BASE_URL: 'http://127.0.0.1:3000',
    RAGTIME_RATE_LIMITS: 'off',
    RAGTIME_PASSWORD_COST: '10',
    RAGTIME_MAIL_LEASE: '3s',
    RAGTIME_LOG_LEVEL: 'info',
  })
}

const SIGN_UPS = 600

describe('scale-out on PostgreSQL', { skip: onlyPostgres }, () => {
  // 600 sign-ups interleave every instance and worker many times over (each worker claims a few
  // at a time); the volume itself is the benchmark's (npm run bench: scale-out), not the test suite's.
  test('3 workers, 2 web instances, 600 sign-ups over HTTP: every confirmation email exactly once', { timeout: 240_000 }, async () => {
    const sink = await startSmtpSink()
    const env = environment(sink.port)
    const { ports } = await cluster(env)
    try {
      await signUps(ports, SIGN_UPS)
      await sink.waitForAccepted(SIGN_UPS, 120_000)
      const config = loadConfig(env)
      const db = await testDb(config)
      const outbox = outboxFromConfig(config, db)
      await until(async () => (await outbox.status()).counts.sent === SIGN_UPS, 'all recorded as sent')
      await db.close()
      const perRecipient = new Map<string, number>()
      for (const m of sink.received) for (const to of m.envelope.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1)
      assert.equal(perRecipient.size, SIGN_UPS)
      assert.ok([...perRecipient.values()].every((n) => n === 1), 'no address got two')
    } finally {
      await sink.close()
    }
  })

  test('one worker killed with SIGKILL midway: every email arrives; duplicates at most what it held', { timeout: 240_000 }, async () => {
    const sink = await startSmtpSink({ verdict: () => new Promise((resolve) => setTimeout(() => resolve('accept'), 5)) })
    const env = environment(sink.port)
    const { ports, workers } = await cluster(env)
    const config = loadConfig(env)
    const db = await testDb(config)
    try {
      const signingUp = signUps(ports, SIGN_UPS)
      // Midway is a count, not a time: under load (CI shares 2 cores) sign-ups can be slow.
      await until(() => sink.received.length >= SIGN_UPS / 3, 'a third delivered', 120_000)
      const victim = workers[0]!
      const victimId = /"worker":"([^"]+)"/.exec(victim.stderr())?.[1]
      victim.child.kill('SIGKILL')
      await victim.exited
      const held = await db.kysely
        .selectFrom('mail_outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('locked_by', '=', victimId ?? '')
        .where('state', '=', 'sending')
        .executeTakeFirstOrThrow()
      await signingUp
      await sink.waitForAccepted(SIGN_UPS, 120_000)
      const outbox = outboxFromConfig(config, db)
      await until(async () => (await outbox.status()).counts.sent === SIGN_UPS, 'all recorded as sent (after the lease)')
      const recipients = new Set(sink.received.map((m) => m.envelope.to[0]))
      assert.equal(recipients.size, SIGN_UPS, 'every email arrived')
      const duplicates = sink.received.length - recipients.size
      assert.ok(duplicates <= Number(held.n), `duplicates ${duplicates}, held by the killed worker ${held.n}`)
    } finally {
      await db.close()
      await sink.close()
    }
  })

  test('a worker started after the queue filled up drains it', { timeout: 60_000 }, async () => {
    const sink = await startSmtpSink()
    const env = environment(sink.port)
    const config = loadConfig(env)
    const db = await testDb(config)
    const outbox = outboxFromConfig(config, db)
    try {
      await transaction(db.kysely, async (trx) => {
        for (let i = 0; i < 300; i++) {
          await outbox.enqueue(trx, { template: 'system/test', to: `u${i}@example.test`, subject: 'Hi', context: { sentAt: 'now', baseUrl: 'x' } })
        }
      })
      const late = spawnRagtime(['worker'], env)
      await sink.waitForAccepted(300, 30_000)
      late.child.kill('SIGTERM')
      assert.equal((await late.exited).code, 0)
    } finally {
      await db.close()
      await sink.close()
    }
  })

  test('a worker whose LISTEN connection is cut reconnects and keeps delivering, without the poll', { timeout: 60_000 }, async () => {
    const sink = await startSmtpSink()
    const env = { ...environment(sink.port), RAGTIME_MAIL_POLL: '1h' }
    const config = loadConfig(env)
    const db = await testDb(config)
    const outbox = outboxFromConfig(config, db)
    const worker = new DeliveryWorker({
      outbox,
      transport: smtpTransport({ ...config.smtp!, maxConnections: 2 }),
      delivery: config.delivery,
      logger: silentLogger,
    })
    // A second outbox (another "process"): its commits reach the worker only through NOTIFY.
    const other = await testDb(config)
    const elsewhere = outboxFromConfig(config, other)
    const send = (to: string) =>
      transaction(other.kysely, (trx) =>
        elsewhere.enqueue(trx, { template: 'system/test', to, subject: 'Hi', context: { sentAt: 'now', baseUrl: 'x' } }),
      )
    const admin = new pg.Client({ connectionString: config.database.kind === 'postgres' ? config.database.url : '' })
    await admin.connect()
    try {
      worker.start()
      await worker.whenIdle()
      const listener = async () =>
        (await admin.query(`select pid from pg_stat_activity where query = $1 and pid <> pg_backend_pid()`, [`LISTEN ${notifyChannel()}`])).rows
      await until(async () => (await listener()).length === 1, 'the LISTEN connection')
      await outbox.waitFor(await send('before@example.test'), 'sent', { timeoutMs: 10_000 })

      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where query = $1`, [`LISTEN ${notifyChannel()}`])
      await until(async () => (await listener()).length === 1, 'a new LISTEN connection', 20_000)
      await outbox.waitFor(await send('after@example.test'), 'sent', { timeoutMs: 10_000 })
    } finally {
      await admin.end()
      await worker.stop({ graceMs: 0 })
      await other.close()
      await db.close()
      await sink.close()
    }
  })
})
