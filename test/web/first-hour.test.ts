import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RATE_RULES } from '../../src/web/rate-limit.ts'
import { ManualClock } from '../helpers/env.ts'
import { type Client, confirmedUser, linkIn, type WebHarness, webHarness } from '../helpers/web.ts'

// What a person trying the demo does (issue 14, points 3 and 6), with the rate limits on as they
// are by default.
const LIMITS_ON = { RAGTIME_RATE_LIMITS: 'on' }
const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

/** A JSON POST as if from `ip` (no proxy is trusted, so the socket's address is the client's). */
function post(h: WebHarness, ip: string, url: string, body: unknown) {
  return h.app.inject({
    method: 'POST',
    url,
    remoteAddress: ip,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json' },
  })
}

/** Sign-ups a person gets wrong: a bad address, a short password, a bad username, a field left out. */
const TYPOS = [
  { email: 'ann@', username: 'ann', password: ann.password },
  { email: 'ann@example.test', username: 'ann', password: 'short' },
  { email: 'ann@example.test', username: '1ann', password: ann.password },
  { email: 'ann@example.test', username: 'ann', password: '' },
  { email: '', username: 'ann', password: ann.password },
  { email: 'ann example.test', username: 'ann', password: ann.password },
]

const countOf = (codes: number[], code: number) => codes.filter((c) => c === code).length

describe('the first hour: rate limits count what an attacker does', () => {
  test('12 sign-ups with typos from one IP, then a valid one: accepted; accepted sign-ups are still limited', async () => {
    const h = await webHarness({ worker: false, env: LIMITS_ON })
    const browser = h.client()
    await browser.get('/auth/register')
    for (let i = 0; i < 12; i++) {
      const typo = TYPOS[i % TYPOS.length]!
      assert.equal((await browser.form('/auth/register', typo)).statusCode, 400, `typo ${i + 1}`)
    }
    const valid = await browser.form('/auth/register', ann)
    assert.equal(valid.statusCode, 303, 'the valid sign-up after 12 typos')
    assert.equal(valid.headers.location, '/auth/check-email')
    // Accepted sign-ups still count: the limit's worth in all, then 429.
    const codes = []
    for (let i = 1; i <= RATE_RULES.signUp.limit; i++) {
      codes.push((await browser.form('/auth/register', { email: `ann${i}@example.test`, username: `ann${i}`, password: ann.password })).statusCode)
    }
    assert.deepEqual(codes, [...Array(RATE_RULES.signUp.limit - 1).fill(303), 429])
  })

  test('a taken username counts only as work: 12 of them, then a valid sign-up is accepted; past the work limit, 429', async () => {
    const h = await webHarness({ worker: false, env: LIMITS_ON })
    await post(h, '10.20.0.1', '/auth/register', ann)
    const codes = []
    for (let i = 0; i < 12; i++) codes.push((await post(h, '10.20.0.2', '/auth/register', { ...ann, email: `other${i}@example.test` })).statusCode)
    assert.deepEqual(codes, Array(12).fill(409))
    assert.equal((await post(h, '10.20.0.2', '/auth/register', { ...ann, email: 'bea@example.test', username: 'bea' })).statusCode, 202)
    // Each taken username hashed a password: those are bounded per IP.
    const more = []
    for (let i = 13; i <= RATE_RULES.signUpFromIp.limit; i++) {
      more.push((await post(h, '10.20.0.2', '/auth/register', { ...ann, email: `other${i}@example.test` })).statusCode)
    }
    assert.deepEqual(more, [...Array(RATE_RULES.signUpFromIp.limit - 13).fill(409), 429])
  })

  test('a parallel burst of valid sign-ups from one IP, after typos: exactly the limit is accepted', async () => {
    const h = await webHarness({ worker: false, env: LIMITS_ON })
    for (let i = 0; i < 12; i++) await post(h, '10.21.0.1', '/auth/register', TYPOS[i % TYPOS.length])
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) => post(h, '10.21.0.1', '/auth/register', { email: `person${i}@example.test`, username: `person${i}`, password: ann.password })),
    )
    const codes = answers.map((a) => a.statusCode)
    assert.equal(countOf(codes, 202), RATE_RULES.signUp.limit, codes.join())
    assert.equal(countOf(codes, 429), 25 - RATE_RULES.signUp.limit, codes.join())
    const users = await h.db.kysely.selectFrom('users').select('id').execute()
    assert.equal(users.length, RATE_RULES.signUp.limit)
  })

  test('12 successful log-ins to one account in a row are all accepted', async () => {
    const h = await webHarness({ env: LIMITS_ON })
    await confirmedUser(h, h.client(), ann)
    const browser = h.client()
    const codes = []
    for (let i = 0; i < 12; i++) {
      await browser.get('/auth/login')
      codes.push((await browser.form('/auth/login', { email: ann.email, password: ann.password })).statusCode)
      await browser.get('/') // a log-in gives the browser a new CSRF token: the log-out form carries it
      assert.equal((await browser.form('/auth/logout', {})).statusCode, 303)
    }
    assert.deepEqual(codes, Array(12).fill(303))
    const api = h.client()
    for (let i = 0; i < 12; i++) assert.equal((await api.json('POST', '/auth/login', { email: ann.email, password: ann.password })).statusCode, 200, `JSON log-in ${i + 1}`)
  })

  test('failed log-ins still lock as docs/accounts.md says, after successful ones: per IP and address, and per account', async () => {
    const h = await webHarness({ env: LIMITS_ON })
    await confirmedUser(h, h.client(), ann)
    for (let i = 0; i < 12; i++) assert.equal((await post(h, '10.22.0.1', '/auth/login', { email: ann.email, password: ann.password })).statusCode, 200)
    // Per IP and address: the limit's worth of failures, then 429 for the rest of the window.
    const codes = []
    for (let i = 0; i <= RATE_RULES.logIn.limit; i++) codes.push((await post(h, '10.22.0.1', '/auth/login', { email: ann.email, password: `guess ${i}` })).statusCode)
    assert.deepEqual(codes, [...Array(RATE_RULES.logIn.limit).fill(401), 429])
    const locked = await post(h, '10.22.0.1', '/auth/login', { email: ann.email, password: ann.password })
    assert.equal(locked.statusCode, 429, 'the right password too, from there')
    const retryAfter = Number(locked.headers['retry-after'])
    assert.ok(retryAfter > 0 && retryAfter <= RATE_RULES.logIn.windowMs / 1000, `Retry-After: ${retryAfter}`)

    // Per account, from every IP: locked for a new browser, even with the password.
    const bea = { email: 'bea@example.test', username: 'bea', password: 'bea password here' }
    await confirmedUser(h, h.client(), bea)
    for (let i = 0; i < 12; i++) assert.equal((await post(h, '10.23.0.1', '/auth/login', { email: bea.email, password: bea.password })).statusCode, 200)
    const spread = []
    for (let i = 0; i <= RATE_RULES.logInAccount.limit; i++) spread.push((await post(h, `10.24.${i}.1`, '/auth/login', { email: bea.email, password: `guess ${i}` })).statusCode)
    assert.deepEqual(spread, [...Array(RATE_RULES.logInAccount.limit).fill(401), 429])
    assert.equal((await post(h, '10.25.0.1', '/auth/login', { email: bea.email, password: bea.password })).statusCode, 429)
  })

  test('a parallel burst of wrong passwords cannot exceed the limit, after successful log-ins and with right ones mixed in', async () => {
    const h = await webHarness({ env: LIMITS_ON })
    await confirmedUser(h, h.client(), ann)
    for (let i = 0; i < 12; i++) assert.equal((await post(h, '10.26.0.1', '/auth/login', { email: ann.email, password: ann.password })).statusCode, 200)
    // From one IP: at most the per-address limit of wrong passwords is checked.
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => post(h, '10.26.0.1', '/auth/login', { email: ann.email, password: `guess ${i}` })))
    const codes = burst.map((a) => a.statusCode)
    assert.equal(countOf(codes, 401), RATE_RULES.logIn.limit, codes.join())
    assert.equal(countOf(codes, 429), 30 - RATE_RULES.logIn.limit, codes.join())
    // The right password sent alongside frees only its own place, never another's.
    const mixed = await Promise.all(
      Array.from({ length: 40 }, (_, i) => post(h, '10.27.0.1', '/auth/login', { email: ann.email, password: i % 4 === 0 ? ann.password : `guess ${i}` })),
    )
    const mixedCodes = mixed.map((a) => a.statusCode)
    assert.ok(countOf(mixedCodes, 401) <= RATE_RULES.logIn.limit, mixedCodes.join())
    // From many IPs: at most the account's limit.
    const bea = { email: 'bea@example.test', username: 'bea', password: 'bea password here' }
    await confirmedUser(h, h.client(), bea)
    const spread = await Promise.all(Array.from({ length: 30 }, (_, i) => post(h, `10.28.${i}.1`, '/auth/login', { email: bea.email, password: `guess ${i}` })))
    const spreadCodes = spread.map((a) => a.statusCode)
    assert.equal(countOf(spreadCodes, 401), RATE_RULES.logInAccount.limit, spreadCodes.join())
  })
})

describe('the first hour: pages', () => {
  test('a used confirmation link says it was used and offers to log in, when opened and when pressed again', async () => {
    const h = await webHarness()
    await h.client().json('POST', '/auth/register', ann)
    const link = linkIn(await h.mailTo(ann.email), /\/auth\/confirm\/[A-Za-z0-9_-]{43}/)
    const first = h.client()
    await first.get(link)
    assert.equal((await first.form(link, {})).headers.location, '/?confirmed=1')

    const later = h.client() // the link opened again, in a browser that is not logged in
    const page = await later.get(link)
    assert.equal(page.statusCode, 200)
    assert.match(page.body, /This link has been used already: the account is confirmed\. Log in to continue\./)
    assert.match(page.body, /<a class="button" href="\/auth\/login">Log in<\/a>/)
    assert.doesNotMatch(page.body, /<button type="submit">Confirm<\/button>/, 'no button that would log nobody in')
    const pressed = await later.form(link, {})
    assert.equal(pressed.statusCode, 200, 'not a redirect to a logged-out home page')
    assert.match(pressed.body, /used already[^]*href="\/auth\/login"/)
    assert.equal((await later.json('GET', '/api/me')).statusCode, 401, 'still nobody logged in')
    assert.deepEqual((await later.json('POST', link, {})).json(), { confirmed: true }, 'JSON: a repeat is harmless, as before')
    // Logged in to it, the offer is to continue, not to log in.
    const owner = await login(h.client(), ann)
    const mine = await owner.get(link)
    assert.match(mine.body, /used already: the account is confirmed\./)
    assert.match(mine.body, /href="\/">Continue</)
  })

  test('an empty log-in form: 400 with field errors, as a page and as JSON', async () => {
    const h = await webHarness({ worker: false })
    const page = await h.client().form('/auth/login', { email: '', password: '' })
    assert.equal(page.statusCode, 400)
    assert.match(page.body, /Enter your email address\./)
    assert.match(page.body, /Enter your password\./)

    const json = await h.client().json('POST', '/auth/login', {})
    assert.equal(json.statusCode, 400)
    assert.deepEqual(json.json(), {
      error: {
        code: 'invalid_input',
        message: 'Please correct the fields below.',
        fields: { email: 'Enter your email address.', password: 'Enter your password.' },
      },
    })
    const noPassword = await h.client().json('POST', '/auth/login', { email: ann.email, password: '' })
    assert.equal(noPassword.statusCode, 400)
    assert.deepEqual(Object.keys(noPassword.json().error.fields), ['password'])
  })

  test('empty log-in forms count for nothing', async () => {
    const h = await webHarness({ env: LIMITS_ON })
    await confirmedUser(h, h.client(), ann)
    for (let i = 0; i < 12; i++) assert.equal((await post(h, '10.29.0.1', '/auth/login', { email: ann.email })).statusCode, 400)
    assert.equal((await post(h, '10.29.0.1', '/auth/login', ann)).statusCode, 200)
  })

  test('a taken username is reported once on the page', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', ann)
    const page = await h.client().form('/auth/register', { ...ann, email: 'someone@example.test' })
    assert.equal(page.statusCode, 409)
    assert.equal(page.body.match(/taken/gi)?.length, 1, page.body)
    assert.match(page.body, /That username is taken: choose another\./, 'beside the field')
    const json = await h.client().json('POST', '/auth/register', { ...ann, email: 'someone@example.test' })
    assert.equal(json.statusCode, 409)
    assert.equal(json.json().error.code, 'username_taken')
    assert.equal(json.json().error.fields.username, 'That username is taken: choose another.')
  })

  test('"Check your email" names the address its requester typed, and only for that browser, for 15 minutes', async () => {
    const clock = new ManualClock(Date.now())
    const h = await webHarness({ clock })
    const browser = h.client()
    const signUp = await browser.form('/auth/register', { ...ann, email: ' Ann@Example.TEST ' })
    assert.equal(signUp.headers.location, '/auth/check-email')
    const named = await browser.get('/auth/check-email')
    assert.match(named.body, /We sent a link to <strong>Ann@example\.test<\/strong>\./)

    const other = h.client()
    const generic = await other.get('/auth/check-email')
    assert.match(generic.body, /We sent a link to the address you gave\./)
    assert.doesNotMatch(generic.body, /example\.test/i, 'another browser is not told')

    // An address that has a confirmed account: the same page, naming what was typed.
    await confirmedUser(h, h.client(), { email: 'bea@example.test', username: 'bea', password: 'bea password here' })
    const again = h.client()
    await again.form('/auth/register', { email: 'bea@example.test', username: 'bea2', password: 'bea password here' })
    assert.match((await again.get('/auth/check-email')).body, /We sent a link to <strong>bea@example\.test<\/strong>\./)

    // The value is signed: another address with this browser's signature is not shown.
    const [name, value] = [...browser.cookies].find(([key]) => key.includes('signed_up'))!
    const [expires, , mac] = value.split('.')
    other.cookies.set(name, `${expires}.${Buffer.from('mallory@example.test').toString('base64url')}.${mac}`)
    assert.doesNotMatch((await other.get('/auth/check-email')).body, /mallory/)

    clock.advance(15 * 60_000)
    assert.doesNotMatch((await browser.get('/auth/check-email')).body, /Ann@example\.test/, 'no longer after 15 minutes')
  })
})

async function login(client: Client, user: { email: string; password: string }): Promise<Client> {
  assert.equal((await client.json('POST', '/auth/login', { email: user.email, password: user.password })).statusCode, 200)
  return client
}
