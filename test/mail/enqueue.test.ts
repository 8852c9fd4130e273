import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { committed, createOutbox, createRenderer } from '@ragtime/outbox'
import type { Transaction } from 'kysely'
import type { Database } from '../../src/db/index.ts'
import { transaction } from '../../src/db/index.ts'
import { ManualClock } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { harness } from '../helpers/outbox.ts'

describe('enqueue is part of the caller’s transaction', () => {
  test('a rolled-back transaction sends nothing', async () => {
    const h = await harness()
    await assert.rejects(
      transaction(h.db.kysely, async (trx) => {
        await h.outbox.enqueue(trx, {
          template: 'system/test',
          to: 'ann@example.test',
          subject: 'Hello',
          context: { sentAt: 'noon', baseUrl: 'http://localhost:3000' },
        })
        throw new Error('the sign-up failed')
      }),
      /the sign-up failed/,
    )
    assert.deepEqual(await h.worker.runOnce(), { claimed: 0, sent: 0, retrying: 0, dead: 0, expired: 0 })
    assert.equal((await h.outbox.list()).length, 0)
    assert.equal(h.sink.offered(), 0)
  })

  test('a committed message is delivered once, with the server’s reply recorded', async () => {
    const h = await harness()
    const id = await h.send('ann@example.test')
    assert.equal((await h.outbox.get(id))?.state, 'queued')
    assert.deepEqual(await h.worker.runOnce(), { claimed: 1, sent: 1, retrying: 0, dead: 0, expired: 0 })
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'sent')
    assert.equal(row?.attempts, 1)
    assert.match(row?.lastResponse ?? '', /^250 .*queued as 1/)
    assert.equal(h.sink.received.length, 1)
    assert.deepEqual(h.sink.received[0]?.envelope, { from: 'noreply@ragtime.test', to: ['ann@example.test'] })
    assert.deepEqual(await h.worker.runOnce(), { claimed: 0, sent: 0, retrying: 0, dead: 0, expired: 0 })
  })

  test('a live dedupe key returns the first message instead of adding another', async () => {
    const h = await harness()
    const first = await h.send('ann@example.test', { dedupeKey: 'welcome:1' })
    const second = await h.send('ann@example.test', { dedupeKey: 'welcome:1' })
    assert.equal(second, first)
    await h.worker.runOnce()
    assert.equal(await h.send('ann@example.test', { dedupeKey: 'welcome:1' }), first, 'sent is still live')
    assert.notEqual(await h.send('ann@example.test', { dedupeKey: 'welcome:2' }), first)
    assert.equal((await h.outbox.list()).length, 2)
  })

  test('runAt holds a message back until it is due', async () => {
    const clock = new ManualClock()
    const h = await harness({ clock })
    const id = await h.send('ann@example.test', { runAt: new Date(clock.now() + 60_000) })
    assert.equal((await h.worker.runOnce()).claimed, 0)
    clock.advance(60_000)
    assert.equal((await h.worker.runOnce()).sent, 1)
    assert.equal((await h.outbox.get(id))?.state, 'sent')
  })

  test('high priority goes first; notices wait', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_BATCH_SIZE: '1' } })
    const notice = await h.send('admin@example.test', { priority: 'low' })
    const confirm = await h.send('ann@example.test', { priority: 'high' })
    await h.worker.runOnce()
    assert.equal((await h.outbox.get(confirm))?.state, 'sent')
    assert.equal((await h.outbox.get(notice))?.state, 'queued')
  })

  test('an app’s own transaction: committed(trx) wakes the worker and emits enqueued; without it the mail waits for the poll', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_POLL: '1h' } })
    const enqueued: string[] = []
    h.outbox.signals.on('enqueued', (event) => enqueued.push(event.template))
    const email = { template: 'system/test', to: 'ann@example.test', subject: 'Hi', context: { sentAt: 'noon', baseUrl: 'http://x.test' } } as const
    const idle = h.worker.whenIdle()
    h.worker.start()
    await idle
    // A plain Kysely transaction, not the outbox's transaction(): the app reports the commit itself.
    let own: Transaction<Database> | undefined
    const first = await h.db.kysely.transaction().execute(async (trx) => {
      own = trx
      return h.outbox.enqueue(trx, email)
    })
    assert.deepEqual(enqueued, [], 'nothing is announced before the app says it committed')
    committed(own!)
    assert.deepEqual(enqueued, ['system/test'])
    assert.equal((await h.outbox.waitFor(first, 'sent', { timeoutMs: 5_000 })).state, 'sent', 'woken at once, not by the hour-long poll')
    // Not reported: committed and kept, never announced; on SQLite it waits for the next poll, on
    // PostgreSQL the transaction's NOTIFY still wakes the worker.
    const second = await h.db.kysely.transaction().execute((trx) => h.outbox.enqueue(trx, { ...email, to: 'bob@example.test' }))
    if (ON_POSTGRES) {
      assert.equal((await h.outbox.waitFor(second, 'sent', { timeoutMs: 5_000 })).state, 'sent')
    } else {
      await assert.rejects(h.outbox.waitFor(second, 'sent', { timeoutMs: 300 }), /did not reach sent/)
      assert.equal((await h.outbox.get(second))?.state, 'queued')
    }
    assert.deepEqual(enqueued, ['system/test'])
  })

  test('a table prefix is lower case letters, digits and underscores ending with one (PostgreSQL folds LISTEN channels)', async () => {
    const h = await harness()
    for (const tablePrefix of ['Shop_', 'shop', 'shop-mail_', 'x;drop_']) {
      assert.throws(() => createOutbox({ db: h.db.kysely, renderer: createRenderer({ templatesDir: '.', sender: 'a@b.test' }), tablePrefix }), /tablePrefix must be/)
    }
    assert.doesNotThrow(() => createOutbox({ db: h.db.kysely, renderer: createRenderer({ templatesDir: '.', sender: 'a@b.test' }), tablePrefix: 'shop_mail_' }))
  })

  test('a bad recipient is refused at enqueue, and the transaction with it', async () => {
    const h = await harness()
    for (const to of ['not-an-address', 'ann@example.test\r\nBcc: eve@example.test', 'a'.repeat(65) + '@example.test']) {
      await assert.rejects(h.send(to), { name: 'MailInputError' }, to)
    }
    assert.equal((await h.outbox.list()).length, 0)
  })
})
