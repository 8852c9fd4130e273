import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { mailOperations } from '../../src/mail/index.ts'
import { ManualClock } from '../helpers/env.ts'
import { harness } from '../helpers/outbox.ts'

const SECOND = 1_000

describe('failures: retry, dead letters, suppression, take-over', () => {
  test('451 twice, then accepted: delivered on the third attempt, with backing-off retries', async () => {
    const clock = new ManualClock()
    const h = await harness({
      clock,
      sink: { verdict: (n) => (n <= 2 ? { code: 451, message: '4.3.0 Try again later' } : 'accept') },
    })
    const id = await h.send('ann@example.test')

    assert.equal((await h.worker.runOnce()).retrying, 1)
    let row = await h.outbox.get(id)
    assert.equal(row?.state, 'retrying')
    assert.equal(row?.attempts, 1)
    assert.match(row?.lastError ?? '', /451.*Try again later/)
    assert.deepEqual(row?.lastFailure, { kind: 'transient', smtpCode: 451, smtpStatus: '4.3.0' }, 'the failure as data too')
    const firstDelay = (row?.runAt ?? 0) - clock.now()
    assert.ok(firstDelay >= 3.75 * SECOND && firstDelay <= 6.25 * SECOND, `first retry ~5 s, got ${firstDelay}`)
    assert.equal((await h.worker.runOnce()).claimed, 0, 'not before it is due')

    clock.advance(firstDelay)
    assert.equal((await h.worker.runOnce()).retrying, 1)
    row = await h.outbox.get(id)
    assert.equal(row?.attempts, 2)
    const secondDelay = (row?.runAt ?? 0) - clock.now()
    assert.ok(secondDelay >= 7.5 * SECOND && secondDelay <= 12.5 * SECOND, `second retry ~10 s, got ${secondDelay}`)

    clock.advance(secondDelay)
    assert.equal((await h.worker.runOnce()).sent, 1)
    row = await h.outbox.get(id)
    assert.equal(row?.state, 'sent')
    assert.equal(row?.attempts, 3)
    assert.equal(h.sink.received.length, 1)
  })

  test('550 5.1.1: dead after one attempt, the address suppressed, later mail to it not sent', async () => {
    const h = await harness({
      sink: { verdict: () => ({ code: 550, message: '5.1.1 <gone@example.test>: no such user' }) },
    })
    const id = await h.send('gone@example.test')
    assert.equal((await h.worker.runOnce()).dead, 1)
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'dead')
    assert.equal(row?.attempts, 1)
    assert.match(row?.lastError ?? '', /550.*5\.1\.1/)
    assert.deepEqual(row?.lastFailure, { kind: 'permanent', smtpCode: 550, smtpStatus: '5.1.1' })
    assert.equal(await h.outbox.store.isSuppressed('GONE@example.test'), true)

    const next = await h.send('Gone@Example.test')
    assert.equal((await h.outbox.get(next))?.state, 'suppressed')
    assert.equal((await h.worker.runOnce()).claimed, 0)
    assert.equal(h.sink.offered(), 1, 'the server saw only the first message')
  })

  test('another 5xx (5.7.1 policy) is dead at once but does not suppress the address', async () => {
    const h = await harness({ sink: { verdict: () => ({ code: 554, message: '5.7.1 Message refused' }) } })
    const id = await h.send('ann@example.test')
    await h.worker.runOnce()
    assert.equal((await h.outbox.get(id))?.state, 'dead')
    assert.equal(await h.outbox.store.isSuppressed('ann@example.test'), false)
  })

  // Suppression is for a recipient the server says does not exist. A refused sender is about us:
  // it must not put the admin, or anyone, on the list.
  for (const pipelining of [true, false]) {
    test(`MAIL FROM refused with 550 5.1.8 (${pipelining ? 'pipelined' : 'one command at a time'}): dead, nobody suppressed, later mail sent`, async () => {
      let refuseSender = true
      const h = await harness({
        sink: {
          noPipelining: !pipelining,
          onMailFrom: () => (refuseSender ? { code: 550, message: '5.1.8 <noreply@ragtime.test>: Sender address rejected: Domain not found' } : 'accept'),
        },
      })
      const id = await h.send('admin@example.test')
      assert.equal((await h.worker.runOnce()).dead, 1)
      const row = await h.outbox.get(id)
      assert.equal(row?.state, 'dead')
      assert.equal(row?.attempts, 1)
      assert.match(row?.lastError ?? '', /^EENVELOPE 550 MAIL FROM: 550 5\.1\.8 .*Sender address rejected/)
      assert.equal(await h.outbox.store.isSuppressed('admin@example.test'), false)
      assert.equal((await h.db.kysely.selectFrom('mail_suppression').selectAll().execute()).length, 0)

      refuseSender = false
      const next = await h.send('admin@example.test')
      assert.equal((await h.outbox.get(next))?.state, 'queued')
      assert.equal((await h.worker.runOnce()).sent, 1)
      assert.equal((await h.outbox.get(next))?.state, 'sent')
      assert.deepEqual(h.sink.received.map((m) => m.envelope.to), [['admin@example.test']])
    })
  }

  test('RCPT TO refused with 550 5.1.1: dead, the address suppressed', async () => {
    const h = await harness({
      sink: { onRcptTo: (to) => (to === 'gone@example.test' ? { code: 550, message: '5.1.1 <gone@example.test>: Recipient address rejected: User unknown' } : 'accept') },
    })
    const id = await h.send('gone@example.test')
    const other = await h.send('ann@example.test')
    assert.deepEqual(await h.worker.runOnce(), { claimed: 2, sent: 1, retrying: 0, dead: 1, expired: 0 })
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'dead')
    assert.match(row?.lastError ?? '', /^EENVELOPE 550: 550 5\.1\.1 /)
    assert.equal(await h.outbox.store.isSuppressed('gone@example.test'), true)
    assert.equal(await h.outbox.store.isSuppressed('ann@example.test'), false)
    assert.equal((await h.outbox.get(other))?.state, 'sent')
    assert.equal((await h.outbox.get(await h.send('gone@example.test')))?.state, 'suppressed')
  })

  test('RCPT TO refused with 550 5.1.8 (a sender check answered at RCPT TO, as Postfix does): dead, nobody suppressed', async () => {
    const h = await harness({ sink: { onRcptTo: () => ({ code: 550, message: '5.1.8 <noreply@ragtime.test>: Sender address rejected: Domain not found' }) } })
    const id = await h.send('ann@example.test')
    assert.equal((await h.worker.runOnce()).dead, 1)
    assert.equal((await h.outbox.get(id))?.state, 'dead')
    assert.equal(await h.outbox.store.isSuppressed('ann@example.test'), false)
  })

  test('the message refused with 550 5.1.8 at the end of DATA: dead, nobody suppressed, later mail sent', async () => {
    let refuse = true
    const h = await harness({ sink: { verdict: () => (refuse ? { code: 550, message: '5.1.8 Bad sender system address' } : 'accept') } })
    const id = await h.send('ann@example.test')
    assert.equal((await h.worker.runOnce()).dead, 1)
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'dead')
    assert.match(row?.lastError ?? '', /^EMESSAGE 550: 550 5\.1\.8 /)
    assert.equal(await h.outbox.store.isSuppressed('ann@example.test'), false)
    refuse = false
    const next = await h.send('ann@example.test')
    assert.equal((await h.worker.runOnce()).sent, 1)
    assert.equal((await h.outbox.get(next))?.state, 'sent')
  })

  test('transient failures for longer than the give-up age end dead, visibly', async () => {
    const clock = new ManualClock()
    const h = await harness({
      clock,
      env: { RAGTIME_MAIL_GIVE_UP: '1h' },
      sink: { verdict: () => ({ code: 451, message: '4.4.2 busy' }) },
    })
    const id = await h.send('ann@example.test')
    for (let i = 0; i < 100; i++) {
      await h.worker.runOnce()
      const row = await h.outbox.get(id)
      if (row?.state !== 'retrying') break
      clock.advance(Math.max(0, row.runAt - clock.now()))
    }
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'dead')
    assert.match(row?.lastError ?? '', /^gave up after \d+ attempts: .*451 4\.4\.2 busy/)
    assert.deepEqual(row?.lastFailure, { kind: 'gave-up', smtpCode: 451, smtpStatus: '4.4.2' })
    // 5 s doubling to the 5-minute cap: an hour of trying is about 15 attempts.
    assert.ok((row?.attempts ?? 0) >= 12 && (row?.attempts ?? 0) <= 20, `attempts: ${row?.attempts}`)
  })

  test('a dead message can be retried and is then delivered', async () => {
    let refuse = true
    const h = await harness({ sink: { verdict: () => (refuse ? { code: 552, message: '5.3.4 too big' } : 'accept') } })
    const id = await h.send('ann@example.test')
    await h.worker.runOnce()
    assert.equal((await h.outbox.get(id))?.state, 'dead')
    refuse = false
    assert.equal(await mailOperations(h.outbox).perform('test', { action: 'retry-dead' }), 1)
    assert.equal((await h.worker.runOnce()).sent, 1)
    assert.equal((await h.outbox.get(id))?.state, 'sent')
  })

  test('a claim whose lease ran out is taken over by another worker', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const id = await h.send('ann@example.test')
    // A worker that claimed and then died: nothing renews its lease.
    const lost = await h.outbox.store.claim('dead-worker', clock.now(), clock.now() + h.config.delivery.leaseMs, 10)
    assert.equal(lost.length, 1)
    assert.equal((await h.worker.runOnce()).claimed, 0, 'held while the lease runs')
    clock.advance(h.config.delivery.leaseMs + 1)
    assert.equal((await h.worker.runOnce()).sent, 1)
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'sent')
    assert.equal(row?.attempts, 2, 'the lost attempt counts')
    // The dead worker's late report changes nothing, and is not reported as recorded (nor counted).
    const late = [{ id, kind: 'retry', template: 'system/test', error: 'late', reply: { smtpCode: 451, smtpStatus: null }, runAt: clock.now() } as const]
    assert.equal((await h.outbox.store.record('dead-worker', late, clock.now())).size, 0)
    assert.equal((await h.outbox.get(id))?.state, 'sent')
    assert.equal((await h.db.kysely.selectFrom('mail_failures').selectAll().execute()).length, 0, 'not in the failure log')
  })
})
