import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CompiledQuery } from 'kysely'
import { transaction } from '../../src/db/index.ts'
import { MAIL_STATES, MailInputError, mailOperations, NOTHING_CHANGED, startRetention } from '../../src/mail/index.ts'
import { FINISHED_STATES, UNFINISHED_STATES } from '../../packages/outbox/src/states.ts'
import { expiredBodiesDue } from '../../packages/outbox/src/store/operations.ts'
import { runRagtime } from '../helpers/cli.ts'
import { ManualClock, silentLogger, testEnv } from '../helpers/env.ts'
import { type Harness, harness } from '../helpers/outbox.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'

const MINUTE = 60_000
const DAY = 86_400_000
const TARGET = 'finished mail past its body expiry'

/** What the database holds for message `id`: its row's purge marks, and whether its body is still there. */
async function stored(h: Harness, id: number) {
  const row = await h.db.kysely
    .selectFrom('mail_outbox')
    .select(['state', 'body_expires_at', 'body_purged_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow()
  return {
    state: row.state,
    expiresAt: row.body_expires_at == null ? null : Number(row.body_expires_at),
    purgedAt: row.body_purged_at == null ? null : Number(row.body_purged_at),
    hasBody: (await h.outbox.store.bodies([id])).has(id),
  }
}

async function audit(h: Harness) {
  const rows = await h.db.kysely.selectFrom('mail_audit').select(['actor', 'action', 'target', 'affected']).orderBy('id').execute()
  return rows.map((a) => [a.actor, a.action, a.target, Number(a.affected)])
}

describe('bodyExpiresAt: the stored message of finished mail goes once what it carries is void', () => {
  test('a sent message keeps its body until its expiry; after it, the sweep deletes the body and keeps the row', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const operations = mailOperations(h.outbox)
    const expiresAt = clock.now() + 60 * MINUTE
    const id = await h.send('ann@example.test', { bodyExpiresAt: new Date(expiresAt) })
    assert.equal((await h.worker.runOnce()).sent, 1)
    assert.deepEqual(await stored(h, id), { state: 'sent', expiresAt, purgedAt: null, hasBody: true })

    clock.advance(59 * MINUTE)
    assert.equal(await operations.purgeExpiredBodies('retention'), 0, 'not before its expiry')
    assert.equal((await stored(h, id)).hasBody, true)

    clock.advance(2 * MINUTE)
    assert.equal(await operations.purgeExpiredBodies('retention'), 1)
    assert.deepEqual(await stored(h, id), { state: 'sent', expiresAt, purgedAt: clock.now(), hasBody: false })
    const row = await h.outbox.get(id)
    assert.equal(row?.recipient, 'ann@example.test', 'the metadata stays')
    assert.equal(row?.subject, '[Ragtime] Hello')
    assert.match(row?.lastResponse ?? '', /^250 /)

    assert.equal(await operations.purgeExpiredBodies('retention'), 0, 'a second sweep finds nothing')
    assert.deepEqual(await audit(h), [['retention', 'purge', TARGET, 1]], 'recorded once, when it did something')
    assert.equal(await operations.perform('ops', { action: 'retry', id }), 0, 'sent mail is not retried')
    assert.equal((await operations.overview()).counts.sent, 1, 'the dashboard still counts it')
  })

  test('mail still waiting to be sent keeps its body past its expiry: queued, and retrying (then sent whole)', async () => {
    const clock = new ManualClock()
    let busy = true
    const h = await harness({
      clock,
      sink: { verdict: (_n, raw) => (busy && /^To: retry@/m.test(raw) ? { code: 451, message: '4.3.0 Try again later' } : 'accept') },
    })
    const operations = mailOperations(h.outbox)
    const bodyExpiresAt = new Date(clock.now() + MINUTE)
    const retrying = await h.send('retry@example.test', { bodyExpiresAt })
    assert.equal((await h.worker.runOnce()).retrying, 1)
    const queued = await h.send('later@example.test', { bodyExpiresAt, runAt: new Date(clock.now() + DAY) })

    clock.advance(10 * MINUTE)
    assert.equal(await operations.purgeExpiredBodies('retention'), 0)
    assert.deepEqual(await stored(h, retrying), { state: 'retrying', expiresAt: bodyExpiresAt.getTime(), purgedAt: null, hasBody: true })
    assert.deepEqual(await stored(h, queued), { state: 'queued', expiresAt: bodyExpiresAt.getTime(), purgedAt: null, hasBody: true })
    assert.deepEqual(await audit(h), [], 'a sweep that purged nothing is not recorded')

    busy = false
    assert.equal((await h.worker.runOnce()).sent, 1, 'the late message goes out with its whole body')
    assert.match(h.sink.received[0]?.raw ?? '', /^To: retry@example\.test/m)
    assert.equal(await operations.purgeExpiredBodies('retention'), 1, 'and once sent, its body goes')
    assert.deepEqual(await stored(h, retrying), { state: 'sent', expiresAt: bodyExpiresAt.getTime(), purgedAt: clock.now(), hasBody: false })
    assert.equal((await stored(h, queued)).hasBody, true)
  })

  test('dead, cancelled and suppressed mail past its expiry loses its body, and is then not retried', async () => {
    const clock = new ManualClock()
    const h = await harness({
      clock,
      sink: { verdict: (_n, raw) => (/^To: gone@/m.test(raw) ? { code: 550, message: '5.1.1 no such user' } : { code: 554, message: '5.7.1 refused' }) },
    })
    const operations = mailOperations(h.outbox)
    const bodyExpiresAt = new Date(clock.now() + 60 * MINUTE)
    const bounced = await h.send('gone@example.test', { bodyExpiresAt })
    const dead = await h.send('ann@example.test', { bodyExpiresAt })
    assert.equal((await h.worker.runOnce()).dead, 2)
    const suppressed = await h.send('gone@example.test', { bodyExpiresAt })
    const cancelled = await h.send('bob@example.test', { bodyExpiresAt })
    assert.equal(await transaction(h.db.kysely, (trx) => h.outbox.withdraw(trx, [cancelled])), 1)
    assert.deepEqual(
      await Promise.all([bounced, dead, suppressed, cancelled].map(async (id) => (await h.outbox.get(id))?.state)),
      ['dead', 'dead', 'suppressed', 'cancelled'],
    )

    assert.equal(await operations.purgeExpiredBodies('retention'), 0, 'not before the expiry')
    clock.advance(61 * MINUTE)
    assert.equal(await operations.purgeExpiredBodies('retention'), 4)
    for (const id of [bounced, dead, suppressed, cancelled]) {
      const now = await stored(h, id)
      assert.equal(now.hasBody, false, `message ${id}`)
      assert.equal(now.purgedAt, clock.now())
    }

    // Nothing is left to send: a retry changes nothing rather than queue a message with no body.
    assert.equal(await operations.perform('ops', { action: 'retry', id: dead }), 0)
    assert.equal(await operations.perform('ops', { action: 'retry', id: cancelled }), 0)
    assert.equal(await operations.perform('ops', { action: 'retry-dead' }), 0)
    assert.equal(await operations.perform('ops', { action: 'unsuppress', address: 'gone@example.test' }), 1)
    assert.equal(await operations.perform('ops', { action: 'retry', id: suppressed }), 0)
    assert.match(NOTHING_CHANGED.retry, /its stored message was purged/)
    assert.equal((await h.worker.runOnce()).claimed, 0)
  })

  test('a message without bodyExpiresAt is left to retention', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const operations = mailOperations(h.outbox)
    const plain = await h.send('ann@example.test')
    const expiring = await h.send('bob@example.test', { bodyExpiresAt: new Date(clock.now() + MINUTE) })
    await h.worker.runOnce()
    clock.advance(29 * DAY)
    assert.equal(await operations.purgeExpiredBodies('retention'), 1)
    assert.deepEqual(await stored(h, plain), { state: 'sent', expiresAt: null, purgedAt: null, hasBody: true })
    assert.equal((await stored(h, expiring)).hasBody, false)
    assert.equal(await operations.purgeExpired('retention', 30 * DAY), 0)

    clock.advance(2 * DAY)
    assert.equal(await operations.purgeExpiredBodies('retention'), 0)
    assert.equal(await operations.purgeExpired('retention', 30 * DAY), 1, 'retention takes it, and only it')
    assert.equal((await stored(h, plain)).hasBody, false)
    assert.deepEqual(await audit(h), [
      ['retention', 'purge', TARGET, 1],
      ['retention', 'purge', 'sent over 30 d ago', 1],
    ])
  })

  test('sweeps running at once split the work: each body purged once, counted once', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const operations = mailOperations(h.outbox)
    for (let i = 0; i < 30; i++) await h.send(`u${i}@example.test`, { bodyExpiresAt: new Date(clock.now() + MINUTE) })
    await h.worker.runOnce()
    clock.advance(2 * MINUTE)
    const counts = await Promise.all([1, 2, 3].map((n) => operations.purgeExpiredBodies(`sweeper ${n}`)))
    assert.equal(counts.reduce((a, b) => a + b, 0), 30)
    const entries = await h.db.kysely.selectFrom('mail_audit').select('affected').execute()
    assert.equal(entries.reduce((n, a) => n + Number(a.affected), 0), 30)
    assert.equal((await h.db.kysely.selectFrom('mail_body').select('outbox_id').execute()).length, 0)
  })

  test('bodyExpiresAt must be a date: anything else is an input error and the transaction rolls back', async () => {
    const h = await harness()
    for (const bad of [new Date(Number.NaN), 1_700_000_000_000 as unknown as Date]) {
      await assert.rejects(h.send('ann@example.test', { bodyExpiresAt: bad }), MailInputError)
    }
    assert.equal((await h.outbox.list()).length, 0)
  })

  test('every worker runs the sweep every few minutes beside retention', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const operations = mailOperations(h.outbox)
    const id = await h.send('ann@example.test', { bodyExpiresAt: new Date(clock.now() + MINUTE) })
    await h.worker.runOnce()
    const retention = startRetention(operations, 30 * DAY, silentLogger, { firstAfterMs: 10, expiredBodiesEveryMs: 20 })
    try {
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal((await stored(h, id)).hasBody, true, 'not before its expiry')
      clock.advance(2 * MINUTE)
      const deadline = Date.now() + 5_000
      // The sweep records its audit entry after the purge commits: wait for both.
      while ((await stored(h, id)).hasBody || (await audit(h)).length === 0) {
        assert.ok(Date.now() < deadline, 'the periodic sweep purged the body and recorded it')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      retention.stop()
    }
    assert.deepEqual(await audit(h), [['retention', 'purge', TARGET, 1]])
  })

  test('ragtime mail purge also purges finished mail past its expiry, recorded with who ran it', async () => {
    const env = testEnv()
    const h = await harness({ env: { DATABASE_URL: env.DATABASE_URL! } })
    const id = await h.send('ann@example.test', { bodyExpiresAt: new Date(Date.now() - MINUTE) })
    const waiting = await h.send('bob@example.test', { bodyExpiresAt: new Date(Date.now() - MINUTE), runAt: new Date(Date.now() + DAY) })
    await h.worker.runOnce()
    const result = await runRagtime(['mail', 'purge'], env)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /purged the stored message of 0 sent emails older than 30 d/)
    assert.match(result.stdout, /purged the stored message of 1 finished email past their expiry/)
    assert.equal((await stored(h, id)).hasBody, false)
    assert.equal((await stored(h, waiting)).hasBody, true)
    const [entry] = await audit(h)
    assert.equal(entry?.[0]?.toString().startsWith('cli:'), true)
    assert.deepEqual(entry?.slice(1), ['purge', TARGET, 1])
  })

  test('every state is finished or may still be sent, never both: only finished mail loses its body', () => {
    assert.deepEqual([...FINISHED_STATES, ...UNFINISHED_STATES].sort(), [...MAIL_STATES].sort())
  })

  test('the sweep reads the partial index on body_expires_at, not every sent message (SQLite plan)', { skip: ON_POSTGRES && 'SQLite only' }, async () => {
    const h = await harness()
    const query = expiredBodiesDue(h.db.kysely, Date.now(), 1000).compile()
    const plan = await h.db.kysely.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))
    const details = plan.rows.map((r) => r.detail).join('\n')
    assert.match(details, /USING INDEX mail_outbox_body_expires/)
    assert.doesNotMatch(details, /TEMP B-TREE/, 'the index gives the order too')
  })
})
