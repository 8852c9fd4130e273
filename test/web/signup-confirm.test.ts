import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ParsedMail } from 'mailparser'
import { ManualClock } from '../helpers/env.ts'
import { until } from '../helpers/wait.ts'
import { confirmedUser, linkIn, webHarness } from '../helpers/web.ts'

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

    await browser.get(link) // logging in gave this browser a new CSRF cookie
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
    await h.client().json('POST', linkIn(await h.mailTo(ann.email)), {})
    const second = await h.client().json('POST', '/auth/register', { ...ann, email: 'ANN@Example.Test', username: 'ann2' })
    assert.equal(second.statusCode, first.statusCode)
    assert.deepEqual(second.json(), first.json())
    const notice = await h.mailTo(ann.email, { subject: /Someone tried to sign up/ })
    assert.doesNotMatch(notice.text ?? '', /\/auth\/confirm\//, 'no second confirmation link')
    assert.match(linkIn(notice, /\/auth\/login/), /^\/auth\/login$/)
    const users = await h.db.kysely.selectFrom('users').select('id').execute()
    assert.equal(users.length, 1)
  })

  test('a sign-up for an address held only by an unconfirmed account takes it over: the first holder’s password, sessions and link stop working', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'boss@example.test' } })
    const attacker = h.client()
    const squat = { email: 'boss@example.test', username: 'mallory', password: 'mallory knows this' }
    await attacker.json('POST', '/auth/register', squat)
    const squatLink = linkIn(await h.mailTo(squat.email, { subject: /Confirm/ }))
    assert.equal((await attacker.json('POST', '/auth/login', squat)).statusCode, 200)

    const boss = { email: 'Boss@example.test', username: 'boss', password: 'the real admin here' }
    const answer = await h.client().json('POST', '/auth/register', boss)
    assert.equal(answer.statusCode, 202)
    assert.equal((await attacker.json('GET', '/api/me')).statusCode, 401, 'the squatter’s session is gone')
    assert.equal((await h.client().json('POST', '/auth/login', squat)).statusCode, 401, 'and its password')
    assert.equal((await h.client().json('POST', squatLink, {})).statusCode, 400, 'and its link')
    const isTheirs = (m: ParsedMail) => /Hi boss,/.test(m.text ?? '') && /Confirm/.test(m.subject ?? '')
    await until(async () => (await h.allMailTo(boss.email)).some(isTheirs), 'the real admin’s link')
    const link = linkIn((await h.allMailTo(boss.email)).find(isTheirs)!)
    const admin = h.client()
    assert.equal((await admin.json('POST', link, {})).statusCode, 200)
    const me = (await admin.json('GET', '/api/me')).json()
    assert.deepEqual([me.username, me.confirmed], ['boss', true])
    assert.equal((await admin.json('GET', '/admin/mail')).statusCode, 200)
    const users = await h.db.kysely.selectFrom('users').select('username').execute()
    assert.deepEqual(users.map((u) => u.username), ['boss'])
    // The username the squatter held is free again.
    assert.equal((await h.client().json('POST', '/auth/register', { ...squat, email: 'mallory@example.test' })).statusCode, 202)
  })

  test('confirming ends every session the account had: a squatter logged in before confirmation is logged out', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'boss@example.test' } })
    const attacker = h.client()
    const squat = { email: 'boss@example.test', username: 'mallory', password: 'mallory knows this' }
    await attacker.json('POST', '/auth/register', squat)
    assert.equal((await attacker.json('POST', '/auth/login', squat)).statusCode, 200)
    const link = linkIn(await h.mailTo(squat.email, { subject: /Confirm/ }))
    const owner = h.client()
    assert.equal((await owner.json('POST', link, {})).statusCode, 200)
    assert.equal((await attacker.json('GET', '/api/me')).statusCode, 401, 'the earlier session is gone, not promoted to admin')
    assert.equal((await attacker.json('GET', '/admin/mail')).statusCode, 401)
    assert.equal((await owner.json('GET', '/api/me')).json().confirmed, true, 'the confirming browser is logged in')
  })

  test('a confirmation link does not swap a different signed-in user’s session', async () => {
    const h = await webHarness()
    const browser = await confirmedUser(h, h.client(), { email: 'bob@example.test', username: 'bob', password: 'bob password here' })
    await h.client().json('POST', '/auth/register', ann)
    const link = linkIn(await h.mailTo(ann.email, { subject: /Confirm/ }))
    await browser.get(link)
    const confirmed = await browser.form(link, {})
    assert.equal(confirmed.statusCode, 200)
    assert.match(confirmed.body, /You are still logged in as bob/)
    assert.equal((await browser.json('GET', '/api/me')).json().username, 'bob')
    const row = await h.db.kysely.selectFrom('users').select('confirmed_at').where('username', '=', 'ann').executeTakeFirstOrThrow()
    assert.notEqual(row.confirmed_at, null)
    assert.equal((await browser.json('POST', link, {})).json().confirmed, true)
    assert.equal((await browser.json('GET', '/api/me')).json().username, 'bob')
  })

  test('unconfirmed accounts expire after 7 days and are purged, with their sessions and links', async () => {
    const clock = new ManualClock(Date.now())
    const h = await webHarness({ clock })
    const api = h.client()
    await api.json('POST', '/auth/register', ann)
    await api.json('POST', '/auth/login', ann)
    await confirmedUser(h, h.client(), { email: 'bob@example.test', username: 'bob', password: 'bob password here' })
    clock.advance(6 * 86_400_000)
    assert.equal((await h.deps.accounts.purgeStale()).accounts, 0, 'six days: kept')
    clock.advance(86_400_000 + 1)
    const purged = await h.deps.accounts.purgeStale()
    assert.equal(purged.accounts, 1)
    const users = await h.db.kysely.selectFrom('users').select('username').execute()
    assert.deepEqual(users.map((u) => u.username), ['bob'], 'the confirmed account stays')
    assert.equal((await h.db.kysely.selectFrom('sessions').select('id').execute()).length, 1, 'only bob’s session is left')
    assert.equal((await h.client().json('POST', '/auth/login', ann)).statusCode, 401)
  })

  test('expired sessions and rate-limit counters are purged', async () => {
    const clock = new ManualClock(Date.now())
    const h = await webHarness({ clock, env: { RAGTIME_RATE_LIMITS: 'on' } })
    await confirmedUser(h, h.client(), { email: 'bob@example.test', username: 'bob', password: 'bob password here' })
    await h.client().json('POST', '/auth/login', { email: 'bob@example.test', password: 'wrong password' })
    const count = async (table: 'sessions' | 'rate_limits') => (await h.db.kysely.selectFrom(table).selectAll().execute()).length
    assert.ok((await count('sessions')) > 0 && (await count('rate_limits')) > 0)
    clock.advance(15 * 86_400_000)
    const purged = await h.deps.accounts.purgeStale()
    assert.ok(purged.sessions > 0 && purged.counters > 0, JSON.stringify(purged))
    assert.equal(await count('sessions'), 0)
    assert.equal(await count('rate_limits'), 0)
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
