import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TOKEN_LIFETIMES } from '../../src/accounts/tokens.ts'
import { mailOperations } from '../../src/mail/index.ts'
import { ManualClock } from '../helpers/env.ts'
import { harness } from '../helpers/outbox.ts'
import { linkIn, webHarness } from '../helpers/web.ts'

const MINUTE = 60_000

describe('mail that expires: enqueue takes a deadline, and mail unsent at it is never sent', () => {
  test('a message taken after its deadline ends expired, unsent; one before it goes', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const late = await h.send('late@example.test', { deadline: new Date(clock.now() + MINUTE) })
    const onTime = await h.send('ontime@example.test', { deadline: new Date(clock.now() + 10 * MINUTE) })
    clock.advance(2 * MINUTE)
    const run = await h.worker.runOnce()
    assert.deepEqual({ sent: run.sent, expired: run.expired }, { sent: 1, expired: 1 })
    const row = await h.outbox.get(late)
    assert.equal(row?.state, 'expired')
    assert.equal(row?.lastError, 'not sent: its deadline passed')
    assert.equal((await h.outbox.get(onTime))?.state, 'sent')
    assert.deepEqual(
      h.sink.received.map((m) => m.envelope.to[0]),
      ['ontime@example.test'],
    )
    assert.equal((await h.outbox.status()).counts.expired, 1, 'counted for the dashboard and /metrics')
  })

  test('a transient failure whose next attempt would fall past the deadline expires the message at once', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock, sink: { verdict: () => ({ code: 451, message: '4.3.0 Try again later' }) } })
    // The first retry is about 5 s away: a deadline 2 s out cannot be met.
    const soon = await h.send('soon@example.test', { deadline: new Date(clock.now() + 2_000) })
    const later = await h.send('later@example.test', { deadline: new Date(clock.now() + 10 * MINUTE) })
    const run = await h.worker.runOnce()
    assert.deepEqual({ retrying: run.retrying, expired: run.expired }, { retrying: 1, expired: 1 })
    assert.equal((await h.outbox.get(soon))?.state, 'expired')
    assert.equal((await h.outbox.get(later))?.state, 'retrying')
  })

  test('the sweep expires waiting mail no worker reached in time (queued and retrying); mail without a deadline waits on', async () => {
    const clock = new ManualClock()
    let busy = true
    const h = await harness({ clock, sink: { verdict: () => (busy ? { code: 451, message: '4.3.0 Try again later' } : 'accept') } })
    const operations = mailOperations(h.outbox)
    const retrying = await h.send('retry@example.test', { deadline: new Date(clock.now() + 30 * MINUTE) })
    assert.equal((await h.worker.runOnce()).retrying, 1)
    assert.equal((await h.outbox.get(retrying))?.lastFailure?.smtpCode, 451)
    const queued = await h.send('queued@example.test', { deadline: new Date(clock.now() + 30 * MINUTE), runAt: new Date(clock.now() + 60 * MINUTE) })
    const plain = await h.send('plain@example.test', { runAt: new Date(clock.now() + 60 * MINUTE) })
    assert.equal(await operations.expireOverdue(), 0, 'nothing is past its deadline yet')
    clock.advance(31 * MINUTE)
    assert.equal(await operations.expireOverdue(), 2)
    assert.equal((await h.outbox.get(retrying))?.state, 'expired')
    assert.equal((await h.outbox.get(retrying))?.lastFailure, null, 'the words say expired, and no earlier failure is left as data')
    assert.equal((await h.outbox.get(queued))?.state, 'expired')
    assert.equal((await h.outbox.get(plain))?.state, 'queued')
    busy = false
    clock.advance(60 * MINUTE)
    assert.equal((await h.worker.runOnce()).sent, 1, 'only the message without a deadline goes')
    assert.deepEqual(h.sink.received.map((m) => m.envelope.to[0]), ['plain@example.test'])
  })

  test('a deadline that is not a date is refused', async () => {
    const h = await harness()
    await assert.rejects(h.send('x@example.test', { deadline: new Date(Number.NaN) }), /deadline is not a valid date/)
  })
})

describe('the accounts’ links carry their token’s expiry as the deadline', () => {
  test('confirmation (48 h), reset (60 min) and change of address (24 h): each message’s deadline is its token’s expiry; a notice has none', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'admin@example.test' } })
    /** The one message of `template`: its deadline is the expiry of the newest token for `purpose`. */
    const hasTokenDeadline = async (template: string, purpose: keyof typeof TOKEN_LIFETIMES) => {
      const rows = await h.db.kysely.selectFrom('mail_outbox').select(['expires_at', 'created_at']).where('template', '=', template).execute()
      assert.equal(rows.length, 1, `one ${template} message`)
      const token = await h.db.kysely.selectFrom('account_tokens').select('expires_at').where('purpose', '=', purpose).orderBy('created_at', 'desc').executeTakeFirstOrThrow()
      const [row] = rows
      const lifetime = TOKEN_LIFETIMES[purpose]
      // Each read from the clock a moment apart (seconds, on a loaded machine; the deadline is hours).
      assert.ok(Math.abs(Number(row?.expires_at) - Number(row?.created_at) - lifetime) < 5_000, `${template}: deadline ${lifetime / 3_600_000} h after it was queued`)
      assert.ok(Math.abs(Number(row?.expires_at) - Number(token.expires_at)) < 5_000, `${template}: the deadline is its token’s expiry`)
    }
    const ann = { email: 'ann@example.test', username: 'ann', password: 'a long enough passphrase 42' }
    const api = h.client()
    await api.json('POST', '/auth/register', ann)
    await hasTokenDeadline('auth/confirm', 'confirm')
    await api.json('POST', linkIn(await h.mailTo(ann.email, { subject: /Confirm your account/ })), {})
    assert.equal((await api.json('POST', '/auth/reset', { email: ann.email })).statusCode, 202)
    await hasTokenDeadline('auth/reset', 'reset')
    assert.equal((await api.json('POST', '/auth/change-email', { email: 'ann@new.example.test', password: ann.password })).statusCode, 202)
    await hasTokenDeadline('auth/change-email', 'change-email')
    const notices = await h.db.kysely.selectFrom('mail_outbox').select('expires_at').where('template', '=', 'auth/new-user').execute()
    assert.deepEqual(notices, [{ expires_at: null }], 'the admin’s notice has no deadline')
  })
})
