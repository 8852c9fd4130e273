import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mailOperations } from '../../src/mail/index.ts'
import { ManualClock } from '../helpers/env.ts'
import { harness } from '../helpers/outbox.ts'

const DAY = 86_400_000
const bounceGone = { verdict: (_n: number, raw: string) => (/^To: gone@/m.test(raw) ? { code: 550, message: '5.1.1 no such user' } : ('accept' as const)) }

test('retry leaves mail to a suppressed address alone until the address is removed from the list', async () => {
  const h = await harness({ sink: bounceGone })
  const operations = mailOperations(h.outbox)
  const dead = await h.send('gone@example.test')
  await h.worker.runOnce()
  const suppressed = await h.send('Gone@example.test')
  assert.deepEqual([(await h.outbox.get(dead))?.state, (await h.outbox.get(suppressed))?.state], ['dead', 'suppressed'])

  assert.equal(await operations.perform('ops', { action: 'retry-dead' }), 0, 'a bounced mailbox is not mailed again')
  assert.equal(await operations.perform('ops', { action: 'retry', id: dead }), 0)
  assert.equal(await operations.perform('ops', { action: 'unsuppress', address: 'gone@example.test' }), 1)
  assert.equal(await operations.perform('ops', { action: 'retry', id: suppressed }), 1, 'suppressed mail can be sent once the address is off the list')
  assert.equal(await operations.perform('ops', { action: 'retry-dead' }), 1)
  assert.deepEqual((await h.outbox.list({ state: 'queued' })).map((m) => m.id).sort(), [dead, suppressed].sort())
})

test('retry leaves a dead message alone when a newer live one holds its dedupe key', async () => {
  const h = await harness({ sink: bounceGone })
  const operations = mailOperations(h.outbox)
  const dead = await h.send('gone@example.test', { dedupeKey: 'notice:1' })
  await h.worker.runOnce()
  await operations.perform('ops', { action: 'unsuppress', address: 'gone@example.test' })
  const live = await h.send('gone@example.test', { dedupeKey: 'notice:1' })
  assert.notEqual(live, dead, 'a dead message frees its key')
  assert.equal(await operations.perform('ops', { action: 'retry', id: dead }), 0)
  assert.equal(await operations.perform('ops', { action: 'retry-dead' }), 0)
  assert.equal((await h.outbox.get(dead))?.state, 'dead')
})

test('purges running at once split the work: each body purged once, counted once', async () => {
  const clock = new ManualClock()
  const h = await harness({ clock })
  const operations = mailOperations(h.outbox)
  for (let i = 0; i < 30; i++) await h.send(`u${i}@example.test`)
  await h.worker.runOnce()
  clock.advance(31 * DAY)
  const counts = await Promise.all([1, 2, 3].map((n) => operations.purgeExpired(`sweeper ${n}`, 30 * DAY)))
  assert.equal(counts.reduce((a, b) => a + b, 0), 30)
  const audit = await h.db.kysely.selectFrom('mail_audit').select('affected').execute()
  assert.equal(audit.reduce((n, a) => n + Number(a.affected), 0), 30)
  assert.equal((await h.db.kysely.selectFrom('mail_body').select('outbox_id').execute()).length, 0)
})

test('the failure log keeps what the chart needs, not every failure forever', async () => {
  const clock = new ManualClock()
  const h = await harness({ clock, sink: bounceGone })
  const operations = mailOperations(h.outbox)
  await h.send('gone@example.test')
  await h.worker.runOnce()
  assert.equal((await operations.overview()).failedLastHour, 1)
  clock.advance(31 * DAY)
  await operations.purgeExpired('retention', 30 * DAY)
  assert.equal((await h.db.kysely.selectFrom('mail_failures').selectAll().execute()).length, 0)
  assert.equal((await operations.overview()).counts.dead, 1, 'the message itself stays')
})
