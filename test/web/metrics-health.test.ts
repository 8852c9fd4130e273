import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { ManualClock, testDatabaseUrl } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { parseExposition } from '../helpers/prometheus.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'
import { type WebHarness, webHarness } from '../helpers/web.ts'

const TEMPLATE = { template: 'system/test', subject: 'Hello', context: { sentAt: 'now', baseUrl: 'http://x' } } as const

async function enqueue(h: WebHarness, to: string): Promise<number> {
  return transaction(h.db.kysely, (trx) => h.deps.outbox.enqueue(trx, { ...TEMPLATE, to }))
}

async function scrape(h: WebHarness) {
  const response = await h.client().get('/metrics')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  return parseExposition(response.body)
}

describe('GET /metrics', () => {
  test('parses as Prometheus text, and its counters move by exactly what happened', async () => {
    const flaky = new Set<string>()
    const h = await webHarness({
      env: { RAGTIME_MAIL_RETRY_FIRST: '50ms', RAGTIME_MAIL_RETRY_MAX: '50ms' },
      sink: {
        verdict: (_n, raw) => {
          if (/^To: bounce@/m.test(raw)) return { code: 550, message: '5.1.1 <bounce@example.test>: user unknown' }
          if (/^To: flaky@/m.test(raw) && !flaky.has('seen')) {
            flaky.add('seen')
            return { code: 451, message: '4.3.0 try again later' }
          }
          return 'accept'
        },
      },
    })
    const before = await scrape(h)
    assert.equal(before.types.get('ragtime_mail_sent_total'), 'counter')
    assert.equal(before.types.get('ragtime_mail_queue_depth'), 'gauge')
    assert.equal(before.types.get('ragtime_mail_enqueue_to_sent_seconds'), 'histogram')

    const ids = [await enqueue(h, 'one@example.test'), await enqueue(h, 'two@example.test'), await enqueue(h, 'flaky@example.test')]
    const bounce = await enqueue(h, 'bounce@example.test')
    // Rolled back: never existed, never counted.
    await assert.rejects(
      transaction(h.db.kysely, async (trx) => {
        await h.deps.outbox.enqueue(trx, { ...TEMPLATE, to: 'rolled-back@example.test' })
        throw new Error('roll back')
      }),
    )
    for (const id of ids) await h.deps.outbox.waitFor(id, 'sent')
    await h.deps.outbox.waitFor(bounce, 'dead')
    const suppressed = await enqueue(h, 'bounce@example.test')
    assert.equal((await h.deps.outbox.get(suppressed))?.state, 'suppressed')

    const after = await scrape(h)
    const moved = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, { template: 'system/test', ...labels }) - before.value(name, { template: 'system/test', ...labels })
    assert.equal(moved('ragtime_mail_enqueued_total'), 5)
    assert.equal(moved('ragtime_mail_sent_total'), 3)
    assert.equal(moved('ragtime_mail_failed_total', { kind: 'transient' }), 1)
    assert.equal(moved('ragtime_mail_failed_total', { kind: 'permanent' }), 1)
    assert.equal(moved('ragtime_mail_dead_total'), 1)
    assert.equal(moved('ragtime_mail_suppressed_total'), 1)
    assert.equal(moved('ragtime_mail_enqueue_to_sent_seconds_count'), 3)
    assert.equal(moved('ragtime_mail_smtp_send_seconds_count'), 5, 'three sends, one 451 and one 550')
    assert.equal(after.value('ragtime_mail_enqueue_to_sent_seconds_bucket', { template: 'system/test', le: '+Inf' }), 3)

    // Gauges are read from the database.
    assert.equal(after.value('ragtime_mail_messages', { state: 'sent' }), 3)
    assert.equal(after.value('ragtime_mail_messages', { state: 'dead' }), 1)
    assert.equal(after.value('ragtime_mail_queue_depth'), 0)
    assert.equal(after.value('ragtime_mail_oldest_queued_age_seconds'), 0)
    assert.equal(after.value('ragtime_database_up'), 1)
    assert.ok(after.value('ragtime_process_resident_memory_bytes') > 0, 'process metrics too')
  })

  test('queue depth and the oldest waiting age come from the database, whoever enqueued', async () => {
    const clock = new ManualClock()
    const h = await webHarness({ worker: false, clock })
    await enqueue(h, 'a@example.test')
    clock.advance(30_000)
    await enqueue(h, 'b@example.test')
    clock.advance(60_000)
    const scraped = await scrape(h)
    assert.equal(scraped.value('ragtime_mail_queue_depth'), 2)
    assert.equal(scraped.value('ragtime_mail_messages', { state: 'queued' }), 2)
    assert.equal(scraped.value('ragtime_mail_oldest_queued_age_seconds'), 90)
  })
})

describe('GET /healthz', () => {
  // On SQLite the database is a file this process holds open: there is no connection to lose.
  const skip = ON_POSTGRES ? false : 'runs on the PostgreSQL pass, where the database is a server that can go away'
  test('503 when the database is unreachable, 200 again when it is back', { skip }, async () => {
    const url = new URL(testDatabaseUrl())
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432))
    url.host = `127.0.0.1:${proxy.port}`
    const h = await webHarness({ env: { DATABASE_URL: url.toString() }, worker: false })
    const api = h.client()

    const ok = await api.json('GET', '/healthz')
    assert.equal(ok.statusCode, 200)
    assert.deepEqual(ok.json(), { status: 'ok', db: 'ok' })

    await proxy.cut()
    const down = await api.json('GET', '/healthz')
    assert.equal(down.statusCode, 503)
    assert.deepEqual(down.json(), { status: 'error', db: 'unreachable' })
    assert.doesNotMatch(down.body, /ECONNREFUSED|at .*\.ts/, 'no internals leak')
    const metrics = parseExposition((await api.get('/metrics')).body)
    assert.equal(metrics.value('ragtime_database_up'), 0)

    await proxy.restore()
    const back = await api.json('GET', '/healthz')
    assert.equal(back.statusCode, 200)
    assert.equal(back.json().db, 'ok')
  })
})
