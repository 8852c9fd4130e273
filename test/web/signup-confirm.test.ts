import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ManualClock } from '../helpers/env.ts'
import { linkIn, webHarness } from '../helpers/web.ts'

const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

describe('sign-up and confirmation', () => {
  test('sign up with the form, read the link from the email, GET changes nothing, POST confirms and logs in', async () => {
    const h = await webHarness()
    const browser = h.client()
    await browser.get('/auth/register')
    const signUp = await browser.form('/auth/register', ann)
    assert.equal(signUp.statusCode, 303)
    assert.equal(signUp.headers.location, '/auth/check-email')
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 401, 'sign-up never logs in')

    const mail = await h.mailTo(ann.email)
    assert.equal(mail.subject, 'Ragtime — Confirm your account')
    assert.deepEqual(mail.from?.value, [{ name: 'Ragtime', address: 'noreply@ragtime.test' }])
    const link = linkIn(mail, /\/auth\/confirm\/[A-Za-z0-9_-]{43}/)
    assert.match(String(mail.html), new RegExp(`href="http://localhost:3000${link}"`))

    const page = await browser.get(link)
    assert.equal(page.statusCode, 200)
    assert.match(page.body, /<button type="submit">Confirm<\/button>/)
    const row = await h.db.kysely.selectFrom('users').select('confirmed_at').executeTakeFirstOrThrow()
    assert.equal(row.confirmed_at, null, 'GET (a mail scanner) confirms nothing')

    const confirmed = await browser.form(link, {})
    assert.equal(confirmed.statusCode, 303)
    assert.equal(confirmed.headers.location, '/?confirmed=1')
    const me = await browser.json('GET', '/api/me')
    assert.equal(me.statusCode, 200)
    assert.deepEqual({ ...(me.json() as object), id: 0 }, { id: 0, email: ann.email, username: 'ann', confirmed: true })

    const again = await browser.form(link, {})
    assert.equal(again.statusCode, 303, 'a repeat is harmless')
    const stranger = h.client()
    assert.equal((await stranger.json('POST', link, {})).json().confirmed, true)
    assert.equal((await stranger.json('GET', '/api/me')).statusCode, 401, 'a used link does not log anyone in')
  })

  test('JSON: 202 pending_confirmation, then 200 confirmed', async () => {
    const h = await webHarness()
    const api = h.client()
    const signUp = await api.json('POST', '/auth/register', ann)
    assert.equal(signUp.statusCode, 202)
    assert.deepEqual(signUp.json(), { status: 'pending_confirmation' })
    const link = linkIn(await h.mailTo(ann.email))
    const confirmed = await api.json('POST', link, {})
    assert.equal(confirmed.statusCode, 200)
    assert.deepEqual(confirmed.json(), { confirmed: true })
  })

  test('an address that has an account: the same answer, and its owner is told instead of sent a link', async () => {
    const h = await webHarness()
    const first = await h.client().json('POST', '/auth/register', ann)
    const second = await h.client().json('POST', '/auth/register', { ...ann, email: 'ANN@Example.Test', username: 'ann2' })
    assert.equal(second.statusCode, first.statusCode)
    assert.deepEqual(second.json(), first.json())
    const notice = await h.mailTo(ann.email, { subject: /Someone tried to sign up/ })
    assert.doesNotMatch(notice.text ?? '', /\/auth\/confirm\//, 'no second confirmation link')
    assert.match(linkIn(notice, /\/auth\/login/), /^\/auth\/login$/)
    const users = await h.db.kysely.selectFrom('users').select('id').execute()
    assert.equal(users.length, 1)
  })

  test('RAGTIME_ADMIN gets a "new user" notice, at a lower priority than the user’s own mail', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'boss@example.test' } })
    await h.client().json('POST', '/auth/register', ann)
    const notice = await h.mailTo('boss@example.test')
    assert.equal(notice.subject, 'Ragtime — New user')
    assert.match(notice.text ?? '', /ann <ann@example\.test>/)
    const rows = await h.deps.outbox.list()
    const priority = (template: string) => rows.find((r) => r.template === template)?.priority
    assert.ok((priority('auth/new-user') ?? 0) > (priority('auth/confirm') ?? 9))
  })

  test('concurrent duplicate sign-ups make one account', async () => {
    const h = await webHarness()
    // Several rounds: the race (a twin committing between two reads) needs a few tries to show.
    const rounds = 6
    for (let round = 0; round < rounds; round++) {
      const twin = { ...ann, username: `ann${round}`, email: `ann${round}@example.test` }
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          h.client().json('POST', '/auth/register', { ...twin, email: i % 2 ? twin.email.toUpperCase() : twin.email }),
        ),
      )
      assert.ok(answers.every((a) => a.statusCode === 202), answers.map((a) => a.statusCode).join())
    }
    const users = await h.db.kysely.selectFrom('users').select('id').execute()
    assert.equal(users.length, rounds)
  })

  test('unconfirmed log-in sees only /auth/unconfirmed, with delivery status; resend voids the old link', async () => {
    const h = await webHarness()
    const browser = h.client()
    await browser.form('/auth/register', ann)
    const oldLink = linkIn(await h.mailTo(ann.email))
    await h.sink.waitForAccepted(1)
    const login = await browser.form('/auth/login', { email: ann.email, password: ann.password })
    assert.equal(login.headers.location, '/auth/unconfirmed')
    assert.equal((await browser.get('/')).headers.location, '/auth/unconfirmed')
    assert.equal((await browser.get('/auth/change-email')).headers.location, '/auth/unconfirmed')
    const page = await browser.get('/auth/unconfirmed')
    assert.match(page.body, /data-state="sent"/)
    assert.match(page.body, /Sent at \d\d:\d\d UTC\./)

    const resend = await browser.form('/auth/confirm/resend', {})
    assert.equal(resend.headers.location, '/auth/unconfirmed?resent=1')
    await h.sink.waitForAccepted(2)
    const newLink = linkIn(await h.mailTo(ann.email))
    assert.notEqual(newLink, oldLink)
    const stale = await browser.form(oldLink, {})
    assert.equal(stale.statusCode, 400)
    assert.match(stale.body, /href="\/auth\/unconfirmed">Get a new link/)
    assert.equal((await browser.form(newLink, {})).statusCode, 303)
    assert.equal((await browser.json('GET', '/api/me')).json().confirmed, true)
  })

  test('expired, tampered and wrong-purpose tokens: 400 with a page offering a new link', async () => {
    const clock = new ManualClock(Date.now())
    const h = await webHarness({ clock })
    const api = h.client()
    await api.json('POST', '/auth/register', ann)
    const link = linkIn(await h.mailTo(ann.email))
    const tampered = link.slice(0, -1) + (link.endsWith('A') ? 'B' : 'A')
    for (const bad of [tampered, '/auth/confirm/short', '/auth/confirm/' + 'x'.repeat(43)]) {
      const answer = await api.json('POST', bad, {})
      assert.equal(answer.statusCode, 400, bad)
      assert.equal(answer.json().error.code, 'invalid_token')
    }
    // A reset link is not a confirmation link, and the reverse.
    await api.json('POST', '/auth/reset', { email: ann.email })
    const resetLink = linkIn(await h.mailTo(ann.email, { subject: /Reset/ }))
    const token = resetLink.split('/').at(-1)
    assert.equal((await api.json('POST', `/auth/confirm/${token}`, {})).statusCode, 400)
    assert.equal((await api.json('POST', `/auth/reset/${link.split('/').at(-1)}`, { password: 'another password' })).statusCode, 400)

    clock.advance(48 * 3_600_000 + 1)
    const expired = await api.json('POST', link, {})
    assert.equal(expired.statusCode, 400)
    assert.equal(expired.json().error.code, 'expired_token')
    const page = await h.client().get(link)
    assert.equal(page.statusCode, 400)
    assert.match(page.body, /This link has expired/)
  })
})
