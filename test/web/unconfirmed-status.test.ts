import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Client, confirmedUser, linkIn, type WebHarness, webHarness } from '../helpers/web.ts'

const ann = { email: 'ann@exampel.test', username: 'ann', password: 'correct horse battery' }

/** Bounces mail to the misspelt domain with a 550 5.1.1; greylists greylisted@ once. */
function bouncingSink() {
  let greylisted = false
  return {
    verdict: (_n: number, raw: string) => {
      if (/^To: [^\n]*@exampel\.test/m.test(raw)) return { code: 550, message: '5.1.1 <ann@exampel.test>: Recipient address rejected: User unknown' }
      if (/^To: greylisted@/m.test(raw) && !greylisted) {
        greylisted = true
        return { code: 451, message: '4.7.1 Greylisted, try again later' }
      }
      return 'accept' as const
    },
  }
}

/** Signs up and logs in, as someone waiting for the link would. */
async function signUpAndLogIn(browser: Client, user: { email: string; username: string; password: string }) {
  await browser.form('/auth/register', user)
  const login = await browser.form('/auth/login', { email: user.email, password: user.password })
  assert.equal(login.headers.location, '/auth/unconfirmed')
}

/** The id of the one confirmation email in the outbox to `address`. */
async function confirmationTo(h: WebHarness, address: string): Promise<number> {
  const [mail, ...more] = (await h.deps.outbox.list()).filter((m) => m.template === 'auth/confirm' && m.recipient === address)
  assert.ok(mail && more.length === 0, `one confirmation email to ${address}`)
  return mail.id
}

describe('the unconfirmed page follows the confirmation email', () => {
  test('a 550 bounce is told in words a user understands, never the server’s own words, and a way to correct the address', async () => {
    const h = await webHarness({ sink: bouncingSink() })
    const browser = h.client()
    await signUpAndLogIn(browser, ann)
    await h.deps.outbox.waitFor(await confirmationTo(h, ann.email), 'dead')
    const page = await browser.get('/auth/unconfirmed')
    assert.equal(page.statusCode, 200)
    assert.match(page.body, /data-state="failed"/)
    assert.match(page.body, /Your confirmation email could not be delivered: no such mailbox\./)
    assert.match(page.body, /The mail server for exampel\.test says there is no mailbox with this address\. Check it for a typo\./)
    assert.doesNotMatch(page.body, /User unknown|Recipient address rejected|550/, 'the relay’s own words stay with the admin')
    assert.match(page.body, /<section id="correct-address">/, 'the correction form is shown')

    const json = (await browser.json('GET', '/auth/unconfirmed')).json()
    assert.equal(json.delivery.state, 'failed')
    assert.equal(json.delivery.canCorrect, true)
    assert.match(json.delivery.advice, /no mailbox/)
  })

  test('retrying, then sent: each said plainly; the correction form stays hidden', async () => {
    const h = await webHarness({ sink: bouncingSink(), env: { RAGTIME_MAIL_RETRY_FIRST: '2s', RAGTIME_MAIL_RETRY_MAX: '2s' } })
    const browser = h.client()
    await signUpAndLogIn(browser, { ...ann, email: 'greylisted@example.test' })
    const id = await confirmationTo(h, 'greylisted@example.test')
    await h.deps.outbox.waitFor(id, 'retrying')
    const retrying = (await browser.json('GET', '/auth/unconfirmed')).json().delivery
    assert.equal(retrying.state, 'retrying')
    assert.match(retrying.headline, /It has not gone out yet; we will try again in about 1 minute\./)
    assert.equal(retrying.canCorrect, false)
    await h.deps.outbox.waitFor(id, 'sent')
    const page = await browser.get('/auth/unconfirmed')
    assert.match(page.body, /Sent at \d\d:\d\d UTC\./)
    assert.match(page.body, /<section id="correct-address" hidden>/)
  })

  test('correcting the address: password required; the new address gets a link that confirms the account', async () => {
    const h = await webHarness({ sink: bouncingSink() })
    const browser = h.client()
    await signUpAndLogIn(browser, ann)
    await h.deps.outbox.waitFor(await confirmationTo(h, ann.email), 'dead')
    await browser.get('/auth/unconfirmed')

    const wrong = await browser.form('/auth/unconfirmed/address', { email: 'ann@example.test', password: 'not my password' })
    assert.equal(wrong.statusCode, 403)
    assert.match(wrong.body, /That is not your password\./)
    assert.match(wrong.body, /value="ann@example\.test"/, 'the typed address is kept')
    const invalid = await browser.form('/auth/unconfirmed/address', { email: 'ann@\r\nbcc: x@example.test', password: ann.password })
    assert.equal(invalid.statusCode, 400)

    const fixed = await browser.form('/auth/unconfirmed/address', { email: 'ann@example.test', password: ann.password })
    assert.equal(fixed.statusCode, 303)
    assert.equal(fixed.headers.location, '/auth/unconfirmed?corrected=1')
    const page = await browser.get('/auth/unconfirmed?corrected=1')
    assert.match(page.body, /Address updated: a new link is on its way to it\./)
    assert.match(page.body, /We sent a confirmation link to <strong>ann@example\.test<\/strong>/)

    const link = linkIn(await h.mailTo('ann@example.test', { subject: /Confirm your account/ }))
    assert.equal((await browser.json('POST', link, {})).statusCode, 200)
    const me = (await browser.json('GET', '/api/me')).json()
    assert.equal(me.email, 'ann@example.test')
    assert.equal(me.confirmed, true)
    await browser.get('/') // the session (and with it the CSRF cookie) is new since confirmation
    assert.equal((await browser.form('/auth/unconfirmed/address', { email: 'x@example.test', password: ann.password })).statusCode, 409)
  })

  test('an address that has an account gets the same answer; its owner is told, and the user keeps theirs', async () => {
    const h = await webHarness({ sink: bouncingSink() })
    await confirmedUser(h, h.client(), { email: 'bob@example.test', username: 'bob', password: 'bob password!' })
    const browser = h.client()
    await signUpAndLogIn(browser, ann)
    await browser.get('/auth/unconfirmed')
    const free = await browser.json('POST', '/auth/unconfirmed/address', { email: 'ann.fixed@example.test', password: ann.password })
    const taken = await browser.json('POST', '/auth/unconfirmed/address', { email: 'BOB@example.test', password: ann.password })
    assert.equal(taken.statusCode, free.statusCode)
    assert.deepEqual(taken.json(), free.json())
    await h.mailTo('bob@example.test', { subject: /Someone tried to sign up/ })
    assert.equal((await browser.json('GET', '/api/me')).json().email, 'ann.fixed@example.test')
  })

  test('an address held only by another unconfirmed account is taken over by the correction', async () => {
    const h = await webHarness({ sink: bouncingSink() })
    await h.client().json('POST', '/auth/register', { email: 'bob@example.test', username: 'bob', password: 'bob password!' })
    const browser = h.client()
    await signUpAndLogIn(browser, ann)
    const moved = await browser.json('POST', '/auth/unconfirmed/address', { email: 'BOB@example.test', password: ann.password })
    assert.equal(moved.statusCode, 202)
    assert.equal((await browser.json('GET', '/api/me')).json().email, 'BOB@example.test')
    const users = await h.db.kysely.selectFrom('users').select('username').execute()
    assert.deepEqual(users.map((u) => u.username), ['ann'])
  })

  test('a newer link withdraws the older email if it has not gone out yet', async () => {
    const h = await webHarness({ worker: false })
    const browser = h.client()
    await signUpAndLogIn(browser, { ...ann, email: 'ann@example.test' })
    const [first] = await h.deps.outbox.list({ state: 'queued' })
    assert.equal(first?.template, 'auth/confirm')
    await browser.get('/auth/unconfirmed')
    assert.equal((await browser.form('/auth/confirm/resend', {})).statusCode, 303)
    assert.equal((await h.deps.outbox.get(first.id))?.state, 'cancelled', 'its link no longer works: not sent')
    const queued = await h.deps.outbox.list({ state: 'queued' })
    assert.deepEqual(queued.map((m) => m.template), ['auth/confirm'])
    assert.notEqual(queued[0]?.id, first.id)
  })
})
