import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { mailOperations } from '../../src/mail/index.ts'
import { ManualClock, testEnv } from '../helpers/env.ts'
import { harness } from '../helpers/outbox.ts'

const DAY = 86_400_000

test('retention purges the stored message of sent mail past its age; rows, dead mail and recent mail stay', async () => {
  const clock = new ManualClock()
  const h = await harness({ clock, sink: { verdict: (_n, raw) => (/^To: gone@/m.test(raw) ? { code: 550, message: '5.1.1 no such user' } : 'accept') } })
  const operations = mailOperations(h.outbox)
  const old = [await h.send('a@example.test'), await h.send('b@example.test')]
  const dead = await h.send('gone@example.test')
  await h.worker.runOnce()
  clock.advance(31 * DAY)
  const recent = await h.send('c@example.test')
  await h.worker.runOnce()

  assert.equal(await operations.purgeExpired('retention', 30 * DAY), 2)
  const bodies = await h.outbox.store.bodies([...old, dead, recent])
  assert.deepEqual([...bodies.keys()].sort(), [dead, recent].sort(), 'dead mail is kept until handled; recent mail is kept')
  for (const id of old) {
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'sent', 'the metadata stays')
    assert.equal(row?.recipient.endsWith('@example.test'), true)
  }
  const purged = await h.db.kysely.selectFrom('mail_outbox').select('id').where('body_purged_at', 'is not', null).execute()
  assert.deepEqual(purged.map((r) => Number(r.id)).sort(), [...old].sort())

  assert.equal(await operations.purgeExpired('retention', 30 * DAY), 0, 'a second sweep finds nothing')
  const audit = await h.db.kysely.selectFrom('mail_audit').selectAll().execute()
  assert.deepEqual(audit.map((a) => [a.actor, a.action, Number(a.affected)]), [['retention', 'purge', 2]], 'recorded once, when it did something')

  // A purged message cannot be retried (it was sent), and the dashboard's numbers still count it.
  assert.equal(await operations.perform('test', { action: 'retry', id: old[0]! }), 0)
  assert.equal((await operations.overview()).counts.sent, 3)
})

test('RAGTIME_MAIL_RETENTION: 30 days unless set; days are a unit', () => {
  assert.equal(loadConfig(testEnv()).delivery.retentionMs, 30 * DAY)
  assert.equal(loadConfig(testEnv({ RAGTIME_MAIL_RETENTION: '7d' })).delivery.retentionMs, 7 * DAY)
  assert.throws(() => loadConfig(testEnv({ RAGTIME_MAIL_RETENTION: 'a month' })), /RAGTIME_MAIL_RETENTION: must be a duration/)
})
