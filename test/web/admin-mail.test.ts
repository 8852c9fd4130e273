import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { confirmedUser, type WebHarness, webHarness } from '../helpers/web.ts'

const boss = { email: 'boss@example.test', username: 'boss', password: 'boss password!' }
const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }
const TEMPLATE = { template: 'system/test', subject: 'Hello', context: { sentAt: 'now', baseUrl: 'http://x' } } as const

async function enqueue(h: WebHarness, to: string): Promise<number> {
  return transaction(h.db.kysely, (trx) => h.deps.outbox.enqueue(trx, { ...TEMPLATE, to }))
}

/**
 * An app whose SMTP server bounces bounce@ (550 5.1.1), with its admin logged in; with
 * `worker: false` the worker stops once the admin is confirmed, so mail stays queued.
 */
async function dashboardHarness({ worker = true }: { worker?: boolean } = {}) {
  const h = await webHarness({
    env: { RAGTIME_ADMIN: boss.email },
    sink: { verdict: (_n, raw) => (/^To: bounce@/m.test(raw) ? { code: 550, message: '5.1.1 user unknown' } : 'accept') },
  })
  const admin = await confirmedUser(h, h.client(), boss)
  if (!worker) await h.worker.stop({ graceMs: 0 })
  await admin.get('/admin/mail')
  return { h, admin }
}

describe('the outbox dashboard', () => {
  test('admin only: log-in page for nobody, 403 for a user, for the page and every action', async () => {
    const { h } = await dashboardHarness()
    assert.equal((await h.client().get('/admin/mail')).headers.location, '/auth/login')
    const user = await confirmedUser(h, h.client(), ann)
    assert.equal((await user.get('/admin/mail')).statusCode, 403)
    assert.equal((await user.json('GET', '/admin/mail')).statusCode, 403)
    await user.get('/')
    for (const url of ['/admin/mail/retry-dead', '/admin/mail/1/retry', '/admin/mail/1/cancel', '/admin/mail/unsuppress']) {
      assert.equal((await user.form(url, { confirm: 'yes', address: 'x@example.test' })).statusCode, 403, url)
      assert.equal((await user.json('POST', url, { address: 'x@example.test' })).statusCode, 403, url)
    }
    const audit = await h.db.kysely.selectFrom('mail_audit').selectAll().execute()
    assert.equal(audit.length, 0, 'nothing was done')
  })

  test('actions without a CSRF token are refused and change nothing', async () => {
    const { h, admin } = await dashboardHarness({ worker: false })
    const id = await enqueue(h, 'someone@example.test')
    const refused = await admin.form(`/admin/mail/${id}/cancel`, { confirm: 'yes' }, { csrf: false })
    assert.equal(refused.statusCode, 403)
    const forged = await admin.form(`/admin/mail/${id}/cancel`, { confirm: 'yes', _csrf: 'forged' }, { csrf: false })
    assert.equal(forged.statusCode, 403)
    const foreign = await admin.json('POST', `/admin/mail/${id}/cancel`, {}, { origin: 'https://evil.example' })
    assert.equal(foreign.statusCode, 403)
    assert.equal((await h.deps.outbox.get(id))?.state, 'queued')
  })

  test('a form action asks first; confirmed, it is done, recorded, and reported', async () => {
    const { h, admin } = await dashboardHarness({ worker: false })
    const id = await enqueue(h, 'someone@example.test')
    const asked = await admin.form(`/admin/mail/${id}/cancel`, {})
    assert.equal(asked.statusCode, 200)
    assert.match(asked.body, new RegExp(`Cancel message ${id}\\?`))
    assert.match(asked.body, /name="confirm" value="yes"/)
    assert.equal((await h.deps.outbox.get(id))?.state, 'queued', 'asking changes nothing')

    const done = await admin.form(`/admin/mail/${id}/cancel`, { confirm: 'yes' })
    assert.equal(done.statusCode, 303)
    assert.equal(done.headers.location, '/admin/mail?done=cancel&n=1')
    assert.equal((await h.deps.outbox.get(id))?.state, 'cancelled')
    const page = await admin.get(String(done.headers.location))
    assert.match(page.body, /1 item cancelled\./)
    assert.match(page.body, /<td>boss@example\.test<\/td><td>cancel<\/td><td>\d+<\/td><td>1<\/td>/)

    const [entry] = await h.db.kysely.selectFrom('mail_audit').selectAll().execute()
    assert.equal(entry?.actor, boss.email)
    assert.equal(entry?.action, 'cancel')
    assert.equal(entry?.target, String(id))
    assert.equal(Number(entry?.affected), 1)
    assert.ok(Math.abs(Number(entry?.at) - Date.now()) < 10_000)
  })

  test('retry one, retry all dead and unsuppress, as JSON; counts, failures and the suppression list as JSON', async () => {
    const { h, admin } = await dashboardHarness()
    const bounced = [await enqueue(h, 'bounce@example.test'), await enqueue(h, 'bounce@example.test')]
    const fine = await enqueue(h, 'fine@example.test')
    for (const id of bounced) await h.deps.outbox.waitFor(id, ['dead', 'suppressed'])
    await h.deps.outbox.waitFor(fine, 'sent')

    const overview = (await admin.json('GET', '/admin/mail')).json()
    assert.deepEqual(overview.counts, (await h.deps.outbox.status()).counts)
    assert.equal(overview.counts.dead + overview.counts.suppressed, 2)
    assert.equal(overview.queueDepth, 0)
    assert.deepEqual(overview.suppressions.map((s: { address: string }) => s.address), ['bounce@example.test'])
    assert.ok(overview.failing.some((m: { lastError: string }) => /550/.test(m.lastError)))
    assert.equal(overview.lastHour.length, 60)
    assert.equal(overview.lastHour.reduce((n: number, m: { sent: number }) => n + m.sent, 0), overview.counts.sent)
    assert.ok(overview.lastHour.reduce((n: number, m: { failed: number }) => n + m.failed, 0) >= 1)

    const unsuppressed = await admin.json('POST', '/admin/mail/unsuppress', { address: 'Bounce@example.test' })
    assert.deepEqual(unsuppressed.json(), { action: 'unsuppress', affected: 1 })
    const again = await admin.json('POST', '/admin/mail/unsuppress', { address: 'bounce@example.test' })
    assert.equal(again.statusCode, 409, 'nothing to do is said, not a silent 200')
    assert.equal(again.json().error.code, 'not_applicable')
    assert.equal((await admin.json('POST', `/admin/mail/${fine}/retry`, {})).statusCode, 409, 'a sent message is not sent again')
    assert.equal((await admin.json('POST', '/admin/mail/unsuppress', { address: 'not an address' })).statusCode, 400)
    assert.equal((await admin.json('POST', '/admin/mail/abc/retry', {})).statusCode, 400)
    for (const action of ['retry', 'cancel']) {
      const missing = await admin.json('POST', `/admin/mail/999999/${action}`, {})
      assert.equal(missing.statusCode, 404, `${action} of a message that does not exist`)
      assert.deepEqual(missing.json().error, { code: 'not_found', message: 'There is no message 999999.' })
      const page = await admin.form(`/admin/mail/999999/${action}`, {})
      assert.equal(page.statusCode, 404, 'the form says so too, before asking to confirm')
      assert.match(page.body, /There is no message 999999\./)
    }

    await h.worker.stop({ graceMs: 0 })
    const [first, ...others] = await h.deps.outbox.list({ state: 'dead' })
    assert.ok(first)
    const one = await admin.json('POST', `/admin/mail/${first.id}/retry`, {})
    assert.deepEqual(one.json(), { action: 'retry', affected: 1 })
    assert.equal((await h.deps.outbox.get(first.id))?.state, 'queued')
    const retried = await admin.json('POST', '/admin/mail/retry-dead', {})
    assert.deepEqual(retried.json(), { action: 'retry-dead', affected: others.length })
    const actions = await h.db.kysely.selectFrom('mail_audit').select(['action', 'target', 'affected']).orderBy('id').execute()
    assert.deepEqual(
      actions.map((a) => [a.action, a.target, Number(a.affected)]),
      [
        ['unsuppress', 'Bounce@example.test', 1],
        ['unsuppress', 'bounce@example.test', 0],
        ['retry', String(fine), 0],
        ['retry', String(first.id), 1],
        ['retry-dead', null, others.length],
      ],
    )
  })

  test('the page escapes what it shows: a hostile address or error never becomes markup', async () => {
    const { h, admin } = await dashboardHarness({ worker: false })
    await h.db.kysely
      .insertInto('mail_suppression')
      .values({ address: '"><script>alert(1)</script>@example.test', reason: '<img src=x onerror=alert(1)>', outbox_id: null, created_at: Date.now() })
      .execute()
    const page = await admin.get('/admin/mail')
    assert.equal(page.statusCode, 200)
    assert.doesNotMatch(page.body, /<script>alert|<img src=x/)
    assert.match(page.body, /&lt;img src=x onerror=alert\(1\)&gt;/)
    assert.match(page.body, /<svg class="chart"/)
  })
})
