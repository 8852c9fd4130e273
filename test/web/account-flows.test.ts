import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Client, confirmedUser as confirmed, linkIn, type TestUser, type WebHarness, webHarness } from '../helpers/web.ts'

const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

/** A confirmed account (Ann unless told), logged in through `client`. */
const confirmedUser = (h: WebHarness, client: Client, user: TestUser = ann) => confirmed(h, client, user)

describe('log-in, log-out, password reset, change of address', () => {
  test('log-in answers 200 with the user, 401 otherwise, the same for an unknown address; log-out 204', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client())
    const api = h.client()
    const wrong = await api.json('POST', '/auth/login', { email: ann.email, password: 'wrong password' })
    const unknown = await api.json('POST', '/auth/login', { email: 'nobody@example.test', password: 'wrong password' })
    assert.equal(wrong.statusCode, 401)
    assert.deepEqual(unknown.json(), wrong.json())
    const ok = await api.json('POST', '/auth/login', { email: 'ANN@example.test', password: ann.password })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.json().username, 'ann')
    const cookie = ok.cookies.find((c) => c.name === 'ragtime_session')
    assert.ok(cookie?.httpOnly)
    assert.equal(cookie?.sameSite, 'Lax')
    assert.equal(cookie?.secure, undefined, 'not Secure on plain http')
    assert.equal((await api.json('POST', '/auth/logout', {})).statusCode, 204)
    assert.equal((await api.json('GET', '/api/me')).statusCode, 401)
  })

  test('the session is rotated at log-in', async () => {
    const h = await webHarness()
    const browser = await confirmedUser(h, h.client())
    const before = browser.cookies.get('ragtime_session')
    await browser.json('POST', '/auth/login', { email: ann.email, password: ann.password })
    const after = browser.cookies.get('ragtime_session')
    assert.ok(before && after && before !== after)
    const old = h.client()
    old.cookies.set('ragtime_session', before)
    assert.equal((await old.json('GET', '/api/me')).statusCode, 401, 'the old session is gone')
  })

  test('an https BASE_URL makes cookies Secure', async () => {
    const h = await webHarness({ env: { BASE_URL: 'https://ragtime.example.test' } })
    const page = await h.client().get('/auth/login')
    assert.ok(page.cookies.every((c) => c.secure === true))
    assert.match(String(page.headers['strict-transport-security']), /max-age=/)
  })

  test('reset: same answer for any address, single-use link, all sessions revoked, a notice, no log-in', async () => {
    const h = await webHarness()
    const browser = await confirmedUser(h, h.client())
    const api = h.client()
    const known = await api.json('POST', '/auth/reset', { email: ann.email })
    const unknown = await api.json('POST', '/auth/reset', { email: 'nobody@example.test' })
    assert.equal(known.statusCode, 202)
    assert.deepEqual(unknown.json(), known.json())

    const mail = await h.mailTo(ann.email, { subject: /Reset your password/ })
    const link = linkIn(mail, /\/auth\/reset\/[A-Za-z0-9_-]{43}/)
    const form = await api.get(link)
    assert.equal(form.statusCode, 200)
    assert.match(form.body, /name="password"/)
    const short = await api.form(link, { password: 'short' })
    assert.equal(short.statusCode, 400)
    assert.match(short.body, /Use at least 8 characters/)

    const done = await api.form(link, { password: 'a brand new password' })
    assert.equal(done.statusCode, 303)
    assert.equal(done.headers.location, '/auth/login?reset=1')
    assert.equal((await api.json('GET', '/api/me')).statusCode, 401, 'no automatic log-in')
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 401, 'every session revoked')
    const notice = await h.mailTo(ann.email, { subject: /Your password was changed/ })
    assert.match(notice.text ?? '', /http:\/\/localhost:3000\/auth\/reset/)

    assert.equal((await api.form(link, { password: 'yet another password' })).statusCode, 400, 'single use')
    assert.equal((await api.json('POST', '/auth/login', { email: ann.email, password: ann.password })).statusCode, 401)
    assert.equal((await api.json('POST', '/auth/login', { email: ann.email, password: 'a brand new password' })).statusCode, 200)
    assert.equal((await h.allMailTo('nobody@example.test')).length, 0)
  })

  test('any password change voids every outstanding reset link', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client())
    const api = h.client()
    await api.json('POST', '/auth/reset', { email: ann.email })
    await api.json('POST', '/auth/reset', { email: ann.email })
    await h.sink.waitForAccepted(3)
    const links = (await h.allMailTo(ann.email)).filter((m) => /Reset/.test(m.subject ?? '')).map((m) => linkIn(m))
    assert.equal(links.length, 2)
    assert.equal((await api.json('POST', links[1]!, { password: 'first new password' })).statusCode, 200)
    assert.equal((await api.json('POST', links[0]!, { password: 'second new password' })).statusCode, 400)
  })

  test('change of address: password required, the new address confirms, the old one may undo', async () => {
    const h = await webHarness()
    const browser = await confirmedUser(h, h.client())
    await browser.get('/auth/change-email')
    const wrong = await browser.form('/auth/change-email', { email: 'ann@new.example.test', password: 'not my password' })
    assert.equal(wrong.statusCode, 403)
    assert.match(wrong.body, /That is not your current password/)
    const asked = await browser.form('/auth/change-email', { email: 'ann@new.example.test', password: ann.password })
    assert.equal(asked.headers.location, '/auth/change-email?sent=1')

    const confirm = await h.mailTo('ann@new.example.test')
    assert.equal(confirm.subject, 'Ragtime — Confirm your new address')
    const link = linkIn(confirm, /\/auth\/change-email\/[A-Za-z0-9_-]{43}/)
    assert.match((await browser.get(link)).body, /will use <strong>ann@new.example.test<\/strong>/)
    assert.equal((await browser.json('GET', '/api/me')).json().email, ann.email, 'GET changes nothing')
    const changed = await browser.json('POST', link, {})
    assert.deepEqual(changed.json(), { email_changed: true, email: 'ann@new.example.test' })
    assert.equal((await browser.json('GET', '/api/me')).json().email, 'ann@new.example.test')

    const told = await h.mailTo(ann.email, { subject: /Your email address was changed/ })
    assert.match(told.text ?? '', /changed to ann@new\.example\.test/)
    const undo = linkIn(told, /\/auth\/change-email\/undo\/[A-Za-z0-9_-]{43}/)
    const undone = await h.client().json('POST', undo, {})
    assert.deepEqual(undone.json(), { email_changed: true, email: ann.email })
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 401, 'undo logs everyone out')
    assert.equal((await h.client().json('POST', undo, {})).statusCode, 400, 'undo works once')
  })

  test('changing to an address that has an account tells its owner, same answer', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client(), { email: 'bob@example.test', username: 'bob', password: 'bob password!' })
    const browser = await confirmedUser(h, h.client())
    const asked = await browser.json('POST', '/auth/change-email', { email: 'bob@example.test', password: ann.password })
    assert.equal(asked.statusCode, 202)
    await h.mailTo('bob@example.test', { subject: /Someone tried/ })
  })

  test('the admin role: only the confirmed RAGTIME_ADMIN account sees the admin pages', async () => {
    const h = await webHarness({ env: { RAGTIME_ADMIN: 'boss@example.test' } })
    assert.equal((await h.client().get('/admin/mail')).headers.location, '/auth/login')
    const user = await confirmedUser(h, h.client())
    assert.equal((await user.get('/admin/mail')).statusCode, 403)
    const admin = await confirmedUser(h, h.client(), { email: 'boss@example.test', username: 'boss', password: 'boss password!' })
    const page = await admin.get('/admin/mail')
    assert.equal(page.statusCode, 200)
    assert.match(page.body, /<h1>Outbox<\/h1>/)
  })
})
