import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { recordFeedback } from '../../src/mail/index.ts'
import { parseExposition } from '../helpers/prometheus.ts'
import { confirmedUser, type WebHarness, webHarness } from '../helpers/web.ts'

const boss = { email: 'boss@example.test', username: 'boss', password: 'boss password!' }
const TEMPLATE = { template: 'system/test', subject: 'Hello', context: { sentAt: 'now', baseUrl: 'http://x' } } as const

async function sent(h: WebHarness, to: string): Promise<{ id: number; messageId: string }> {
  const id = await transaction(h.db.kysely, (trx) => h.deps.outbox.enqueue(trx, { ...TEMPLATE, to }))
  const row = await h.deps.outbox.waitFor(id, 'sent')
  return { id, messageId: row.messageId }
}

describe('bounces and complaints on the dashboard and in /metrics', () => {
  test('counted, listed with their source, and a complaint rate above Gmail’s 0.3 % is warned about', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: boss.email } })
    const admin = await confirmedUser(h, h.client(), boss)
    const quiet = await admin.get('/admin/mail')
    assert.equal(quiet.statusCode, 200)
    assert.doesNotMatch(quiet.body, /data-warning="complaint-rate"/, 'no complaints, no warning')
    assert.match(quiet.body, /None reported after sending\./)

    const bounced = await sent(h, 'gone@example.test')
    const complained = await sent(h, 'grumpy@example.test')
    await sent(h, 'happy@example.test')
    const now = Date.now()
    await recordFeedback(h.deps.outbox, { kind: 'bounce', source: 'dsn', eventId: 'r1', outboxId: bounced.id, status: '5.1.1', detail: '550 5.1.1 <gone@example.test>: <b>no</b> such user' }, now)
    await recordFeedback(h.deps.outbox, { kind: 'complaint', source: 'mailgun', eventId: 'e1', messageId: complained.messageId, detail: 'complained' }, now)
    await recordFeedback(h.deps.outbox, { kind: 'complaint', source: 'mailgun', eventId: 'e1', messageId: complained.messageId, detail: 'complained' }, now)

    const metrics = parseExposition((await h.client().get('/metrics')).body)
    assert.equal(metrics.value('ragtime_mail_bounces_total'), 1)
    assert.equal(metrics.value('ragtime_mail_complaints_total'), 1, 'the same event twice counts once')
    assert.equal(metrics.types.get('ragtime_mail_bounces_total'), 'counter')
    // Five sent in the last 7 days (the admin's confirmation and new-user notice too): 1 complaint in 5.
    const sentCount = (await h.db.kysely.selectFrom('mail_outbox').select('id').where('sent_at', 'is not', null).execute()).length
    assert.equal(sentCount, 5)
    assert.equal(metrics.value('ragtime_mail_complaint_rate'), 0.2)
    assert.equal(metrics.value('ragtime_mail_messages', { state: 'bounced' }), 1)

    const page = await admin.get('/admin/mail')
    assert.match(page.body, /data-warning="complaint-rate"[^>]*>Recipients marked 20\.00 %/)
    assert.match(page.body, /<dd data-vital="feedback">1 \/ 1<\/dd>/)
    assert.match(page.body, /<tr data-feedback="bounce"><td>\d+<\/td><td>bounce<\/td><td>dsn<\/td><td>gone@example\.test<\/td><td>5\.1\.1<\/td>/)
    assert.match(page.body, /&lt;b&gt;no&lt;\/b&gt; such user/, 'a remote server’s words are escaped')
    assert.match(page.body, /<td>grumpy@example\.test<\/td><td>complaint \(mailgun\): marked as spam<\/td><td>mailgun<\/td>/)
    assert.match(page.body, /<td data-state="bounced">1<\/td>/)
    const json = (await admin.json('GET', '/admin/mail')).json()
    assert.equal(json.feedback.complaints, 1)
    assert.equal(json.recentFeedback.length, 2)
  })
})
