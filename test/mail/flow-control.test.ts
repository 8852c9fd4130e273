import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config/index.ts'
import { type DeliveryWorker, workerFromConfig } from '../../src/mail/index.ts'
import { pushbackOf } from '../../packages/outbox/src/flow/pushback.ts'
import { createMetrics } from '../../src/metrics/index.ts'
import { silentLogger } from '../helpers/env.ts'
import { parseExposition, sampleKey } from '../helpers/prometheus.ts'
import { type Harness, harness } from '../helpers/outbox.ts'
import { until } from '../helpers/wait.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Another worker on the harness's database and sink: another process, as far as the database can tell. */
function workerOnRelay(h: Harness): DeliveryWorker {
  return workerFromConfig(h.config, h.outbox, silentLogger)
}

/**
 * The first arrival sooner than a limiter of `perSecond`, with `burst` to spare, lets through:
 * counted from `start` (before any token was taken), by t seconds at most burst + perSecond × t.
 * Judged from arrival times at the sink, which a stall of the event loop (shared with the
 * workers, on a loaded machine) can only delay, never bring forward: a sliding window over
 * arrivals can be crowded by such a stall, this bound cannot.
 */
function tooSoon(times: readonly number[], start: number, perSecond: number, burst: number): string | undefined {
  const sorted = [...times].sort((a, b) => a - b)
  const at = sorted.findIndex((time, i) => i + 1 > burst + (perSecond * (time - start)) / 1_000)
  return at < 0 ? undefined : `arrival ${at + 1} of ${sorted.length} came ${(sorted[at] as number) - start} ms after the start`
}

describe('what the relay pushes back with', () => {
  const smtpError = (responseCode: number, response: string, code = 'EENVELOPE', command = 'RCPT TO') => ({ code, responseCode, response, command })

  test('each kind of answer is told apart', () => {
    assert.equal(pushbackOf(smtpError(421, '421 4.7.0 Too many connections', 'EPROTOCOL', 'CONN')), 'connections')
    assert.equal(pushbackOf(smtpError(421, '421 Service not available, closing', 'EPROTOCOL', 'CONN')), 'connections')
    assert.equal(pushbackOf(smtpError(454, '454 Throttling failure: Maximum sending rate exceeded.', 'EMESSAGE', 'DATA')), 'rate')
    assert.equal(pushbackOf(smtpError(451, '451 4.3.2 Rate limit exceeded, slow down', 'EMESSAGE', 'DATA')), 'rate')
    assert.equal(pushbackOf(smtpError(451, '451 4.7.1 Try again later')), 'domain')
    assert.equal(pushbackOf(smtpError(421, '421 4.7.28 Our system has detected an unusual rate of unsolicited mail', 'EMESSAGE', 'DATA')), 'domain')
    assert.equal(pushbackOf(smtpError(450, '450 4.2.1 Mailbox busy')), 'none')
    assert.equal(pushbackOf(smtpError(550, '550 5.7.1 Relaying denied')), 'none')
    assert.equal(pushbackOf({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }), 'none')
  })
})

describe('flow control settings', () => {
  test('RAGTIME_MAIL_RATE and RAGTIME_MAIL_DOMAIN_RATES are read as messages per second', () => {
    const config = loadConfig({ RAGTIME_MAIL_RATE: '14/s', RAGTIME_MAIL_DOMAIN_RATES: 'Gmail.com=20/s, outlook.com=600/m,bücher.example=1/h', RAGTIME_MAIL_MAX_CONNECTIONS: '8' })
    assert.equal(config.delivery.rate, 14)
    assert.deepEqual([...config.delivery.domainRates], [['gmail.com', 20], ['outlook.com', 10], ['xn--bcher-kva.example', 1 / 3600]])
    assert.equal(config.delivery.maxConnections, 8)
    assert.equal(loadConfig({ RAGTIME_MAIL_CONCURRENCY: '20', RAGTIME_MAIL_MAX_CONNECTIONS: '8' }).delivery.concurrency, 8, 'the start never exceeds the ceiling')
  })

  test('bad values are refused with the variable named', () => {
    for (const [name, value] of [
      ['RAGTIME_MAIL_RATE', 'fast'],
      ['RAGTIME_MAIL_RATE', '0/s'],
      ['RAGTIME_MAIL_RATE', '14'],
      ['RAGTIME_MAIL_DOMAIN_RATES', 'gmail.com'],
      ['RAGTIME_MAIL_DOMAIN_RATES', 'gmail.com=20/s,=3/s'],
      ['RAGTIME_MAIL_DOMAIN_RATES', 'localhost=1/s'],
      ['RAGTIME_MAIL_MAX_CONNECTIONS', '0'],
    ] as const) {
      assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.message.includes(name), `${name}=${value}`)
    }
  })
})

describe('adaptive connections', () => {
  test('on a slow relay the worker opens more connections while mail waits, never more than RAGTIME_MAIL_MAX_CONNECTIONS', async () => {
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '10' },
      sink: { verdict: () => sleep(100).then(() => 'accept' as const) },
    })
    for (let i = 0; i < 150; i++) await h.send(`user${i}@example.test`)
    h.worker.start()
    await h.sink.waitForAccepted(150, 30_000)
    assert.ok(h.sink.connections.max <= 10, `max connections: ${h.sink.connections.max}`)
    assert.ok(h.sink.connections.max >= 8, `grew from 2 to ${h.sink.connections.max}`)
  })

  test('a relay answering 421 "too many connections" at the greeting makes the worker use fewer; nothing is lost', async () => {
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '30' },
      sink: { connectionLimit: 4, verdict: () => sleep(60).then(() => 'accept' as const) },
    })
    for (let i = 0; i < 200; i++) await h.send(`user${i}@example.test`)
    h.worker.start()
    await until(async () => (await h.outbox.status()).counts.sent === 200, 'all 200 sent', 60_000)
    await h.worker.stop()
    assert.ok(h.sink.connections.refused > 0, 'the worker did try past the relay’s limit')
    // Without the back-off it grows towards 30 and every extra connection is refused, over and over.
    assert.ok(h.sink.connections.refused <= 40, `turned away ${h.sink.connections.refused} times`)
    assert.ok(h.worker.flowStatus().connections <= 4, `settled at ${h.worker.flowStatus().connections}`)
    assert.equal(new Set(h.sink.received.map((m) => m.envelope.to[0])).size, 200, 'each once')
  })

  test('a worker that starts while another holds every connection gets its even share within seconds', async () => {
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '2', RAGTIME_MAIL_MAX_CONNECTIONS: '6' },
      sink: { verdict: () => sleep(100).then(() => 'accept' as const) },
    })
    const [first, second] = [workerOnRelay(h), workerOnRelay(h)]
    for (let i = 0; i < 400; i++) await h.send(`user${i}@example.test`)
    first.start()
    try {
      await until(() => first.flowStatus().connectionShare === 6, 'the first worker grows to the maximum', 10_000)
      second.start()
      await until(() => second.flowStatus().connectionShare >= 3, 'the second gets its even share', 12_000)
      assert.ok(first.flowStatus().connectionShare + second.flowStatus().connectionShare <= 6)
      assert.ok(h.sink.connections.max <= 6, `max connections: ${h.sink.connections.max}`)
    } finally {
      await Promise.all([first.stop({ graceMs: 0 }), second.stop({ graceMs: 0 })])
    }
  })

  test('workers sharing the database share RAGTIME_MAIL_MAX_CONNECTIONS: the relay never sees more', async () => {
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '4', RAGTIME_MAIL_MAX_CONNECTIONS: '5' },
      sink: { verdict: () => sleep(50).then(() => 'accept' as const) },
    })
    const workers = [workerOnRelay(h), workerOnRelay(h), workerOnRelay(h)]
    for (let i = 0; i < 150; i++) await h.send(`user${i}@example.test`)
    for (const worker of workers) worker.start()
    try {
      await h.sink.waitForAccepted(150, 30_000)
      assert.ok(h.sink.connections.max <= 5, `max connections: ${h.sink.connections.max}`)
      const shares = workers.map((w) => w.flowStatus().connectionShare)
      assert.ok(shares.reduce((a, b) => a + b, 0) <= 5, `shares: ${shares.join(', ')}`)
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 0 })))
    }
    const left = await h.db.kysely.selectFrom('mail_flow_slots').selectAll().execute()
    assert.deepEqual(left, [], 'a stopped worker gives its share back')
  })
})

describe('flow control: rates', () => {
  test('RAGTIME_MAIL_RATE holds across workers', async () => {
    const accepted: number[] = []
    const h = await harness({
      env: { RAGTIME_MAIL_RATE: '20/s' },
      sink: { verdict: () => (accepted.push(Date.now()), 'accept') },
    })
    const workers = [workerOnRelay(h), workerOnRelay(h)]
    for (let i = 0; i < 60; i++) await h.send(`user${i}@example.test`)
    const started = Date.now()
    for (const worker of workers) worker.start()
    try {
      await h.sink.waitForAccepted(60, 20_000)
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 0 })))
    }
    // 20 a second after a burst of 200 ms worth (4), and 2 to spare.
    assert.equal(tooSoon(accepted, started, 20, 6), undefined)
    assert.ok(Date.now() - started >= 2_000, 'sixty at 20/s take well over two seconds')
  })

  test('without a worker in the process, /metrics has no flow-control gauges', async () => {
    const h = await harness()
    const metrics = parseExposition(await createMetrics(h.outbox).render())
    assert.equal([...metrics.samples.keys()].some((key) => key.startsWith('ragtime_mail_connections_limit')), false)
  })

  test('a relay that throttles (454) above its quota: the worker learns the rate, delivers everything, and few attempts meet a 454', async () => {
    let windowStart = 0
    let inWindow = 0
    let throttled = 0
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '5' },
      sink: {
        verdict: () => {
          const now = Date.now()
          if (now - windowStart >= 1_000) {
            windowStart = now
            inWindow = 0
          }
          if (++inWindow > 40) {
            throttled++
            return { code: 454, message: 'Throttling failure: Maximum sending rate exceeded.' }
          }
          return 'accept'
        },
      },
    })
    for (let i = 0; i < 240; i++) await h.send(`user${i}@example.test`)
    h.worker.start()
    await until(async () => (await h.outbox.status()).counts.sent === 240, 'all 240 sent', 40_000)
    const learned = h.worker.flowStatus().learnedRate
    assert.ok(learned !== null && learned >= 20 && learned <= 60, `learned ${learned}/s for a quota of 40/s`)
    const metrics = parseExposition(await createMetrics(h.outbox, () => [], () => h.worker.flowStatus()).render())
    const relay = { relay: h.worker.flowStatus().relay }
    assert.ok(Math.abs(metrics.value('ragtime_mail_learned_rate', relay) - h.worker.flowStatus().learnedRate!) < 10, '/metrics shows the learned rate')
    assert.equal(metrics.value('ragtime_mail_connections_limit', relay), h.worker.flowStatus().connections)
    assert.equal(metrics.samples.has(sampleKey('ragtime_mail_paused_domains', relay)), true)
    // Each throttled attempt is retried within a second, not after the 5 s back-off. Few: about 40
    // on an idle machine; a loaded one bunches the sink's arrivals into its 1 s windows, so the
    // bound leaves room (a worker that does not learn meets hundreds).
    console.log(`  # ${throttled} attempts met a 454 for 240 messages; learned ${learned}/s`)
    assert.ok(throttled < 100, `${throttled} attempts met a 454 for 240 messages`)
    assert.equal(new Set(h.sink.received.map((m) => m.envelope.to[0])).size, 240, 'each once')
  })
})

describe('flow control: a relay that keeps refusing', () => {
  test('a message throttled again and again (a daily quota spent) is retried within a second three times, then with the back-off', async () => {
    const h = await harness({ sink: { verdict: () => ({ code: 454, message: 'Throttling failure: Daily message quota exceeded.' }) } })
    const id = await h.send('ann@example.test')
    h.worker.start()
    await until(async () => (await h.outbox.get(id))!.attempts === 4, 'three quick retries', 10_000)
    await until(async () => (await h.outbox.get(id))!.state === 'retrying', 'the fourth recorded')
    const row = (await h.outbox.get(id))!
    // The fourth failure waits the back-off's fourth step (5 s × 2³, ±25 %), not a second.
    assert.ok(row.runAt - Date.now() > 20_000, `next try in ${row.runAt - Date.now()} ms`)
  })
})

describe('flow control: recipient domains', () => {
  test('a domain that defers (451 4.7.1) is paused on its own: other mail flows past it, and its mail goes once it takes mail again', async () => {
    let deferred = 0
    const otherAccepted: number[] = []
    let open = false
    const h = await harness({
      env: { RAGTIME_MAIL_CONCURRENCY: '3', RAGTIME_MAIL_RETRY_FIRST: '5s' },
      sink: {
        onRcptTo: (address) => {
          if (address.endsWith('@slow.test') && !open) {
            deferred++
            return { code: 451, message: '4.7.1 Try again later' }
          }
          if (!address.endsWith('@slow.test')) otherAccepted.push(Date.now())
          return 'accept'
        },
      },
    })
    for (let i = 0; i < 30; i++) {
      await h.send(`s${i}@slow.test`)
      await h.send(`o${i}@other.test`)
    }
    h.worker.start()
    await until(() => otherAccepted.length === 30, 'mail to other domains delivered while slow.test defers', 10_000)
    const slowSent = (await h.outbox.list({ limit: 100 })).filter((r) => r.recipient.endsWith('@slow.test') && r.state === 'sent')
    assert.equal(slowSent.length, 0)
    // The first wave in flight, then one probe per pause (1 s, 2 s, 4 s…): not one attempt per message.
    assert.ok(deferred <= 12, `${deferred} deferred attempts`)
    open = true
    await until(async () => (await h.outbox.status()).counts.sent === 60, 'all 60 sent', 40_000)
    assert.equal(h.sink.received.length, 60, 'each once')
    const rows = await h.outbox.list({ limit: 100 })
    const slowAttempts = rows.filter((r) => r.recipient.endsWith('@slow.test')).reduce((n, r) => n + r.attempts, 0)
    assert.ok(slowAttempts <= 30 + 12, `${slowAttempts} attempts for 30 messages to slow.test`)
  })

  test('RAGTIME_MAIL_DOMAIN_RATES paces one domain; mail to others does not wait behind it', async () => {
    const rated: number[] = []
    const others: number[] = []
    const h = await harness({
      env: { RAGTIME_MAIL_DOMAIN_RATES: 'rated.test=10/s' },
      sink: {
        onRcptTo: (address) => {
          ;(address.endsWith('@rated.test') ? rated : others).push(Date.now())
          return 'accept'
        },
      },
    })
    for (let i = 0; i < 30; i++) await h.send(`r${i}@rated.test`)
    for (let i = 0; i < 30; i++) await h.send(`o${i}@other.test`)
    const started = Date.now()
    h.worker.start()
    await h.sink.waitForAccepted(60, 20_000)
    // 10 a second after a burst of 200 ms worth (2), and 2 to spare.
    assert.equal(tooSoon(rated, started, 10, 4), undefined)
    assert.ok(Math.max(...others) < Math.max(...rated) - 1_000, 'the other domain’s mail was done long before the rated one’s')
  })
})
