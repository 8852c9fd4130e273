import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { transaction } from '../../src/db/index.ts'
import {
  DeliveryWorker,
  FailoverTransport,
  outboxFromConfig,
  type RelayStatus,
  smtpTransport,
  workerFromConfig,
} from '../../src/mail/index.ts'
import { createMetrics } from '../../src/metrics/index.ts'
import { silentLogger, testConfig, testDb } from '../helpers/env.ts'
import { type SinkOptions, type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.ts'
import { freePort, until } from '../helpers/wait.ts'
import { confirmedUser, webHarness } from '../helpers/web.ts'

const COOL_DOWN = { initialMs: 500, maxMs: 2_000 }

async function sink(options: SinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(options)
  after(() => s.close())
  return s
}

/** An SMTP server that answers every connection with a 421 greeting (closed after the test). */
async function busyServer(): Promise<{ port: number; connections: () => number }> {
  let connections = 0
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 500,
    logger: false,
    onConnect(_session, callback) {
      connections++
      callback(Object.assign(new Error('Too busy, try later'), { responseCode: 421 }))
    },
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.server.address()
  return { port: typeof address === 'object' && address ? address.port : 0, connections: () => connections }
}

/** A worker over a FailoverTransport (short cool-down) between the two ports, on a database of its own. */
async function failoverHarness(primaryPort: number, fallbackPort: number) {
  const config = testConfig({
    MAIL_SERVER: '127.0.0.1',
    MAIL_PORT: String(primaryPort),
    MAIL_FALLBACK_SERVER: '127.0.0.1',
    MAIL_FALLBACK_PORT: String(fallbackPort),
    RAGTIME_MAIL_RETRY_FIRST: '200ms',
    RAGTIME_MAIL_RETRY_MAX: '1s',
    RAGTIME_MAIL_POLL: '100ms',
  })
  const db = await testDb(config)
  const outbox = outboxFromConfig(config, db)
  const maxConnections = config.delivery.concurrency
  const transport = new FailoverTransport({
    primary: { host: '127.0.0.1', port: primaryPort, transport: smtpTransport({ ...config.smtp!, maxConnections }) },
    fallback: { host: '127.0.0.1', port: fallbackPort, transport: smtpTransport({ ...config.smtpFallback!, maxConnections }) },
    coolDown: COOL_DOWN,
  })
  const worker = new DeliveryWorker({ outbox, transport, delivery: config.delivery, logger: silentLogger })
  after(async () => {
    await worker.stop({ graceMs: 0 })
    await db.close()
  })
  let n = 0
  const send = (to = `user${++n}@example.test`) =>
    transaction(db.kysely, (trx) =>
      outbox.enqueue(trx, { template: 'system/test', to, subject: 'Hello', context: { sentAt: 'noon', baseUrl: 'http://localhost:3000' } }),
    )
  return { config, db, outbox, transport, worker, send }
}

const relay = (relays: readonly RelayStatus[], name: RelayStatus['name']) => relays.find((r) => r.name === name)!

/** Message-IDs of everything the sinks accepted, each exactly once. */
function messageIds(...sinks: SmtpSink[]): string[] {
  return sinks.flatMap((s) => s.received.map((mail) => /^Message-ID:\s*(\S+)/im.exec(mail.raw)?.[1] ?? 'none'))
}

describe('failover to MAIL_FALLBACK_SERVER', () => {
  test('primary down (port closed): every message goes via the fallback, none lost, none twice', async () => {
    const closedPort = await freePort()
    const fallback = await sink()
    const h = await failoverHarness(closedPort, fallback.port)
    const ids: number[] = []
    for (let i = 0; i < 20; i++) ids.push(await h.send())
    h.worker.start()
    for (const id of ids) {
      const row = await h.outbox.waitFor(id, 'sent', { timeoutMs: 10_000 })
      assert.equal(row.attempts, 1, 'a refused connection sends the same attempt on to the fallback: no retry needed')
    }
    assert.equal(fallback.received.length, 20)
    const seen = messageIds(fallback)
    assert.equal(new Set(seen).size, 20, 'no message twice')
    assert.deepEqual(
      h.transport.relays().map(({ name, state, inUse }) => ({ name, state, inUse })),
      [
        { name: 'primary', state: 'down', inUse: false },
        { name: 'fallback', state: 'up', inUse: true },
      ],
    )
  })

  test('the primary comes back: after the cool-down a probe moves delivery back to it', async () => {
    let primary = await startSmtpSink()
    const port = primary.port
    const fallback = await sink()
    const h = await failoverHarness(port, fallback.port)
    h.worker.start()
    await h.outbox.waitFor(await h.send(), 'sent', { timeoutMs: 5_000 })
    assert.equal(primary.received.length, 1)
    const before = primary

    await primary.close()
    const during: number[] = []
    for (let i = 0; i < 5; i++) during.push(await h.send())
    for (const id of during) await h.outbox.waitFor(id, 'sent', { timeoutMs: 10_000 })
    assert.equal(fallback.received.length, 5, 'sent via the fallback while the primary is down')
    assert.equal(relay(h.transport.relays(), 'primary').state, 'down')
    assert.equal(relay(h.transport.relays(), 'fallback').inUse, true)

    primary = await startSmtpSink({ port })
    after(() => primary.close())
    // Mail keeps flowing; once the cool-down is over, one of these is the probe.
    const backAt = Date.now()
    const later: number[] = []
    await until(
      async () => {
        later.push(await h.send())
        await new Promise((resolve) => setTimeout(resolve, 100))
        return primary.received.length > 0
      },
      'a message through the restarted primary',
      20_000,
    )
    // A few cool-downs; the bound leaves room for a loaded machine (one that never probed back
    // would time out above).
    assert.ok(Date.now() - backAt < 10_000, 'back within a few cool-downs')
    for (const id of later) await h.outbox.waitFor(id, 'sent', { timeoutMs: 10_000 })
    assert.deepEqual(
      h.transport.relays().map(({ name, state, inUse }) => ({ name, state, inUse })),
      [
        { name: 'primary', state: 'up', inUse: true },
        { name: 'fallback', state: 'up', inUse: false },
      ],
    )
    const fallbackBefore = fallback.received.length
    const last = await h.send()
    await h.outbox.waitFor(last, 'sent', { timeoutMs: 5_000 })
    assert.equal(fallback.received.length, fallbackBefore, 'new mail goes to the primary again')

    const total = 1 + during.length + later.length + 1
    const seen = messageIds(before, fallback, primary)
    assert.equal(seen.length, total, 'none lost, none twice')
    assert.equal(new Set(seen).size, total)
  })

  test('a 421 at the greeting fails over too', async () => {
    const busy = await busyServer()
    const fallback = await sink()
    const h = await failoverHarness(busy.port, fallback.port)
    const ids = [await h.send(), await h.send(), await h.send()]
    h.worker.start()
    for (const id of ids) await h.outbox.waitFor(id, 'sent', { timeoutMs: 10_000 })
    assert.ok(busy.connections() >= 1, 'the primary was tried')
    assert.equal(fallback.received.length, 3)
    assert.equal(relay(h.transport.relays(), 'primary').state, 'down')
  })

  test('a 550 to a message does not fail over: the message is dead, as without a fallback', async () => {
    const primary = await sink({ onRcptTo: (address) => (address.startsWith('nobody') ? { code: 550, message: '5.1.1 No such user' } : 'accept') })
    const fallback = await sink()
    const h = await failoverHarness(primary.port, fallback.port)
    h.worker.start()
    const bad = await h.send('nobody@example.test')
    const row = await h.outbox.waitFor(bad, 'dead', { timeoutMs: 5_000 })
    assert.match(row.lastError ?? '', /550/)
    const good = await h.send()
    await h.outbox.waitFor(good, 'sent', { timeoutMs: 5_000 })
    assert.equal(primary.received.length, 1)
    assert.equal(fallback.received.length, 0, 'the fallback never saw either')
    assert.equal(relay(h.transport.relays(), 'primary').state, 'up')
    assert.equal(relay(h.transport.relays(), 'primary').inUse, true)
  })

  test('an unknown outcome (connection dropped after DATA) is not resent to the fallback in the same attempt', async () => {
    const drop: { sink?: SmtpSink } = {}
    const primary = await sink({
      verdict: () => {
        drop.sink?.dropConnections()
        return new Promise(() => {})
      },
    })
    drop.sink = primary
    const fallback = await sink()
    const transport = new FailoverTransport({
      primary: { host: '127.0.0.1', port: primary.port, transport: smtpTransport({ host: '127.0.0.1', port: primary.port, startTls: false, secure: false, username: undefined, password: undefined, maxConnections: 1 }) },
      fallback: { host: '127.0.0.1', port: fallback.port, transport: smtpTransport({ host: '127.0.0.1', port: fallback.port, startTls: false, secure: false, username: undefined, password: undefined, maxConnections: 1 }) },
      coolDown: COOL_DOWN,
    })
    after(() => transport.close())
    const mail = { raw: 'Message-ID: <x@ragtime.test>\r\nSubject: x\r\n\r\nx\r\n', envelope: { from: 'a@ragtime.test', to: ['b@example.test'] } }
    await assert.rejects(transport.send(mail))
    assert.equal(fallback.received.length, 0, 'the attempt fails; the worker retries it later')
    assert.equal(relay(transport.relays(), 'primary').state, 'down', 'the fallback is healthy: the primary is out at its first failure')
    await transport.send(mail)
    assert.equal(fallback.received.length, 1, 'the retry goes via the fallback, the same bytes')
    assert.equal(fallback.received[0]?.raw, mail.raw)
  })

  test('workerFromConfig uses the fallback when configured; /metrics shows each relay', async () => {
    const primary = await sink()
    const fallback = await sink()
    const config = testConfig({
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(primary.port),
      MAIL_FALLBACK_SERVER: '127.0.0.1',
      MAIL_FALLBACK_PORT: String(fallback.port),
    })
    const db = await testDb(config)
    const outbox = outboxFromConfig(config, db)
    const worker = workerFromConfig(config, outbox, silentLogger)
    after(async () => {
      await worker.stop({ graceMs: 0 })
      await db.close()
    })
    assert.deepEqual(worker.relays(), [
      { name: 'primary', host: '127.0.0.1', port: primary.port, state: 'up', inUse: true },
      { name: 'fallback', host: '127.0.0.1', port: fallback.port, state: 'up', inUse: false },
    ])
    const body = await createMetrics(outbox, () => worker.relays()).render()
    assert.match(body, /^ragtime_mail_relay_up\{relay="primary"\} 1$/m)
    assert.match(body, /^ragtime_mail_relay_up\{relay="fallback"\} 1$/m)
    assert.match(body, /^ragtime_mail_relay_in_use\{relay="primary"\} 1$/m)
    assert.match(body, /^ragtime_mail_relay_in_use\{relay="fallback"\} 0$/m)

    const plain = workerFromConfig({ ...config, smtpFallback: undefined }, outbox, silentLogger)
    after(() => plain.stop({ graceMs: 0 }))
    assert.deepEqual(plain.relays(), [])
    const without = await createMetrics(outbox, () => plain.relays()).render()
    assert.doesNotMatch(without, /^ragtime_mail_relay_up\{/m, 'no relay samples without a fallback')
  })
})

describe('the outbox dashboard with a fallback relay', () => {
  test('says which relay is in use and each relay’s state; nothing of the kind without a fallback', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'boss@example.test' } })
    const admin = await confirmedUser(h, h.client(), { email: 'boss@example.test', username: 'boss', password: 'boss password!' })
    const plain = await admin.get('/admin/mail')
    assert.equal(plain.statusCode, 200)
    assert.doesNotMatch(plain.body, /data-relays/)

    const relays: RelayStatus[] = [
      { name: 'primary', host: 'smtp.example.com', port: 587, state: 'down', inUse: false },
      { name: 'fallback', host: 'backup.example.net', port: 465, state: 'up', inUse: true },
    ]
    ;(h.deps as { relays?: () => readonly RelayStatus[] }).relays = () => relays
    const page = await admin.get('/admin/mail')
    assert.match(page.body, /data-relay-in-use="fallback">fallback relay \(backup\.example\.net:465\)/)
    assert.match(page.body, /data-relay="primary" data-relay-state="down">primary smtp\.example\.com:587: down/)
    assert.match(page.body, /data-relay="fallback" data-relay-state="up">fallback backup\.example\.net:465: up/)
    const json = await admin.json('GET', '/admin/mail')
    assert.deepEqual((JSON.parse(json.body) as { relays?: unknown }).relays, relays)
  })
})
