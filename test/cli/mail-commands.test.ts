import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { runRagtime, spawnRagtime } from '../helpers/cli.ts'
import { tempDir, testEnv } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { parseExposition } from '../helpers/prometheus.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { freePort, until } from '../helpers/wait.ts'

/** `ragtime mail send-test <address>`: the id of the message it says it queued. */
async function sendTest(address: string, env: Record<string, string>): Promise<number> {
  const sent = await runRagtime(['mail', 'send-test', address], env)
  assert.equal(sent.code, 0, sent.stderr)
  const id = /^queued: message (\d+) to /.exec(sent.stdout)?.[1]
  assert.ok(id, `no message id in: ${sent.stdout}`)
  return Number(id)
}

// Each test has a database and an SMTP server of its own, and mostly waits on the processes it
// starts: they run side by side.
describe('ragtime CLI', { concurrency: true }, () => {
  test('migrate, send-test, status, list, and a worker that delivers it', async () => {
    const sink = await startSmtpSink()
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port) })
    try {
      assert.match((await runRagtime(['migrate'], env)).stdout, /applied: 0001-mail-outbox/)
      assert.match((await runRagtime(['migrate'], env)).stdout, /already up to date/)

      const sent = await runRagtime(['mail', 'send-test', 'ann@example.test'], env)
      assert.equal(sent.code, 0, sent.stderr)
      assert.match(sent.stdout, /^queued: message \d+ to ann@example.test/)
      const id = Number(/message (\d+)/.exec(sent.stdout)?.[1])
      assert.equal(sink.offered(), 0, 'send-test only enqueues')

      const status = await runRagtime(['mail', 'status'], env)
      assert.match(status.stdout, /^queued\s+1$/m)
      assert.match(status.stdout, /^oldest waiting: \d+ (ms|s)$/m)

      const list = await runRagtime(['mail', 'list', '--state', 'queued', '--json'], env)
      const rows = JSON.parse(list.stdout) as { id: number; state: string; recipient: string; subject: string }[]
      assert.deepEqual(
        rows.map(({ id, state, recipient, subject }) => ({ id, state, recipient, subject })),
        [{ id, state: 'queued', recipient: 'ann@example.test', subject: '[Ragtime] Test email' }],
      )
      assert.match((await runRagtime(['mail', 'list'], env)).stdout, new RegExp(`^${id}\tqueued\tann@example.test\t\\[Ragtime\\] Test email\tattempts=0$`, 'm'))

      const metricsPort = await freePort()
      const worker = spawnRagtime(['worker', '--metrics-port', String(metricsPort)], { ...env, HOST: '127.0.0.1' })
      await sink.waitForAccepted(1)
      const mail = await sink.parse(0)
      assert.equal(mail.subject, '[Ragtime] Test email')
      assert.match(mail.text ?? '', /This is a test email from Ragtime/)
      // The worker counts its own deliveries on its metrics port.
      const scrape = async () => parseExposition(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())
      await until(async () => (await scrape()).value('ragtime_mail_sent_total', { template: 'system/test' }) === 1, 'the worker to count it')
      assert.equal((await scrape()).value('ragtime_mail_messages', { state: 'sent' }), 1)
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404)
      worker.child.kill('SIGTERM')
      assert.equal((await worker.exited).code, 0)
      assert.match((await runRagtime(['mail', 'status'], env)).stdout, /^sent\s+1$/m)
    } finally {
      await sink.close()
    }
  })

  test('retry <id> and --dead', async () => {
    const sink = await startSmtpSink({ verdict: () => ({ code: 554, message: '5.7.1 no' }) })
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port) })
    try {
      const id = String(await sendTest('ann@example.test', env))
      assert.equal((await runRagtime(['mail', 'retry', id], env)).code, 1, 'a queued message is not retried')
      // Deliver (and fail) it in-process through the same file.
      const { loadConfig } = await import('../../src/config/index.ts')
      const { harnessWorker } = await import('../helpers/worker.ts')
      const { worker, db } = await harnessWorker(loadConfig(env))
      await worker.runOnce()
      assert.match((await runRagtime(['mail', 'list', '--state', 'dead'], env)).stdout, /attempts=1\s+EMESSAGE 554: 554 5\.7\.1 no/)
      assert.match((await runRagtime(['mail', 'retry', id], env)).stdout, new RegExp(`^queued again: ${id}$`, 'm'))
      await worker.runOnce()
      assert.match((await runRagtime(['mail', 'retry', '--dead'], env)).stdout, /^queued again: 1$/m, 'one message')
      await worker.stop({ graceMs: 0 })
      await db.close()
    } finally {
      await sink.close()
    }
  })

  test('cancel, unsuppress, purge and status, in step with the dashboard; each recorded with who ran it', async () => {
    const sink = await startSmtpSink({ verdict: (_n, raw) => (/^To: gone@/m.test(raw) ? { code: 550, message: '5.1.1 no such user' } : 'accept') })
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port) })
    try {
      await sendTest('keep@example.test', env)
      const drop = String(await sendTest('drop@example.test', env))
      await sendTest('gone@example.test', env)
      const cancelled = await runRagtime(['mail', 'cancel', drop], env)
      assert.equal(cancelled.code, 0, cancelled.stderr)
      assert.match(cancelled.stdout, new RegExp(`^cancelled: ${drop}$`, 'm'))
      assert.equal((await runRagtime(['mail', 'cancel', drop], env)).code, 1, 'only queued or retrying mail can be cancelled')

      const { loadConfig } = await import('../../src/config/index.ts')
      const { harnessWorker } = await import('../helpers/worker.ts')
      const { worker, db } = await harnessWorker(loadConfig(env))
      await worker.runOnce()
      await worker.stop({ graceMs: 0 })
      await db.close()
      assert.deepEqual(sink.received.map((m) => m.envelope.to[0]), ['keep@example.test'])

      const status = await runRagtime(['mail', 'status'], env)
      assert.match(status.stdout, /^sent\s+1$/m)
      assert.match(status.stdout, /^dead\s+1$/m)
      assert.match(status.stdout, /^cancelled\s+1$/m)
      assert.match(status.stdout, /^queue depth: 0$/m)
      assert.match(status.stdout, /^last hour: 1 sent, 1 failed attempts$/m)
      assert.match(status.stdout, /^suppressed addresses: 1$/m)
      const json = JSON.parse((await runRagtime(['mail', 'status', '--json'], env)).stdout)
      assert.deepEqual(json.lastHour, { sent: 1, failed: 1 })

      const unsuppressed = await runRagtime(['mail', 'unsuppress', 'Gone@example.test'], env)
      assert.match(unsuppressed.stdout, /removed from the suppression list: Gone@example\.test/)
      assert.equal((await runRagtime(['mail', 'unsuppress', 'gone@example.test'], env)).code, 1, 'no longer listed')

      assert.match((await runRagtime(['mail', 'purge'], env)).stdout, /purged the stored message of 0 sent emails older than 30 d/)
      assert.match((await runRagtime(['mail', 'purge', '--older-than', '0s'], env)).stdout, /purged the stored message of 1 sent email older than 0 ms/)
      assert.equal((await runRagtime(['mail', 'purge', '--older-than', 'soon'], env)).code, 2)

      const { openDatabase } = await import('../../src/db/index.ts')
      const check = openDatabase(loadConfig(env).database)
      const audit = await check.kysely.selectFrom('mail_audit').select(['actor', 'action', 'target', 'affected']).orderBy('id').execute()
      await check.close()
      assert.deepEqual(
        audit.map((a) => [a.action, a.target, Number(a.affected)]),
        [
          ['cancel', drop, 1],
          ['cancel', drop, 0],
          ['unsuppress', 'Gone@example.test', 1],
          ['unsuppress', 'gone@example.test', 0],
          ['purge', 'sent over 0 ms ago', 1],
        ],
      )
      assert.ok(audit.every((a) => /^cli:.+@.+/.test(a.actor)), 'the actor names the CLI user and host')
    } finally {
      await sink.close()
    }
  })

  test('bad input is a clear message and a non-zero exit, never a stack trace', async () => {
    const env = testEnv()
    const usage = [['worker', '--metrics-port', 'x'], ['mail', 'list', '--state', 'bogus'], ['mail', 'retry', 'x'], ['mail', 'cancel', '-1'], ['mail', 'unsuppress'], ['mail', 'send-test', 'nope'], ['frobnicate']]
    const results = await Promise.all(usage.map((args) => runRagtime(args, env)))
    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 2, usage[i]?.join(' '))
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
    }
    const bad = await runRagtime(['migrate'], { ...env, MAIL_PORT: 'x', RAGTIME_MAIL_LEASE: '10' })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /Invalid configuration:\n {2}- MAIL_PORT: .*\n {2}- RAGTIME_MAIL_LEASE: /)
  })

  test('on SQLite, the queue commands load neither the PostgreSQL driver nor the CSS inliner', { skip: ON_POSTGRES ? 'the PostgreSQL pass needs its driver' : undefined }, async () => {
    // Preloaded into each process: at exit, it names every package of those two that was loaded
    // (CommonJS packages, so each lands in require.cache however it was imported).
    const preload = path.join(tempDir(), 'report-loaded.cjs')
    writeFileSync(preload, `process.on('exit', () => { const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](pg|juice)[\\\\/]/.test(f)); process.stderr.write('loaded: ' + loaded.length + '\\n') })\n`)
    const env = { ...testEnv(), NODE_OPTIONS: `--require ${preload}` }
    for (const args of [['migrate'], ['mail', 'status'], ['mail', 'list'], ['mail', 'retry', '--dead']]) {
      const run = await runRagtime(args, env)
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stderr, /^loaded: 0$/m, `ragtime ${args.join(' ')}`)
    }
    // A command that renders loads the inliner, and the preload sees it.
    const rendering = await runRagtime(['mail', 'send-test', 'ann@example.test'], env)
    assert.match(rendering.stderr, /^loaded: [1-9]\d*$/m)
  })

  test('production without MAIL_SERVER: worker refuses and says what to set; mail commands still work', async () => {
    const env = testEnv({ NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-of-32-characters-or-more' })
    const worker = await runRagtime(['worker'], env)
    assert.equal(worker.code, 1)
    assert.match(worker.stderr, /MAIL_SERVER: is required when NODE_ENV=production/)
    assert.equal((await runRagtime(['mail', 'status'], env)).code, 0)
  })
})

describe('message ids', () => {
  test('mail retry and mail cancel of an id that does not exist: "no message N", exit 1', async () => {
    const env = testEnv()
    for (const action of ['retry', 'cancel']) {
      const run = await runRagtime(['mail', action, '999'], env)
      assert.equal(run.code, 1, `${action}: ${run.stderr}`)
      assert.match(run.stderr, /^ragtime: no message 999 \(see: ragtime mail list\)$/m, action)
    }
    // An id that exists but cannot be cancelled twice still says why.
    const queued = await runRagtime(['mail', 'send-test', 'ann@example.test'], env)
    const id = /queued: message (\d+)/.exec(queued.stdout)?.[1]
    assert.ok(id, queued.stderr)
    assert.equal((await runRagtime(['mail', 'cancel', id], env)).code, 0)
    const again = await runRagtime(['mail', 'cancel', id], env)
    assert.equal(again.code, 1)
    assert.match(again.stderr, new RegExp(`message ${id} was not cancelled: it is not queued or retrying`))
  })
})
