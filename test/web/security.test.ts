import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RATE_RULES } from '../../src/web/rate-limit.ts'
import { webHarness } from '../helpers/web.ts'

const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

describe('web security', () => {
  test('a form without a valid CSRF token is refused with 403; a fresh page’s token works', async () => {
    const h = await webHarness()
    const browser = h.client()
    await browser.get('/auth/register')
    const missing = await browser.form('/auth/register', ann, { csrf: false })
    assert.equal(missing.statusCode, 403)
    assert.match(missing.body, /This form has expired/)
    const forged = await browser.form('/auth/register', { ...ann, _csrf: 'x'.repeat(43) }, { csrf: false })
    assert.equal(forged.statusCode, 403)
    // Another browser's token does not fit this browser's cookie.
    const other = h.client()
    await other.get('/auth/register')
    assert.equal((await browser.form('/auth/register', { ...ann, _csrf: other.csrf }, { csrf: false })).statusCode, 403)
    assert.equal((await browser.form('/auth/register', ann)).statusCode, 303)
  })

  test('JSON needs no token, but a foreign Origin gets 403', async () => {
    const h = await webHarness()
    const api = h.client()
    const foreign = await api.json('POST', '/auth/register', ann, { origin: 'https://evil.example' })
    assert.equal(foreign.statusCode, 403)
    assert.equal(foreign.json().error.code, 'bad_origin')
    assert.equal((await api.json('POST', '/auth/register', ann, { origin: 'http://localhost:3000' })).statusCode, 202)
    assert.equal((await h.db.kysely.selectFrom('users').select('id').execute()).length, 1)
  })

  test('security headers on every answer', async () => {
    const h = await webHarness()
    for (const url of ['/', '/auth/login', '/nope', '/healthz']) {
      const answer = await h.client().get(url)
      assert.match(String(answer.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/)
      assert.equal(answer.headers['x-content-type-options'], 'nosniff')
      assert.equal(answer.headers['referrer-policy'], 'no-referrer')
      assert.equal(answer.headers['x-frame-options'], 'DENY')
    }
  })

  test('404 is a friendly page or a JSON error; bad JSON is a 400, never a stack trace', async () => {
    const h = await webHarness()
    const page = await h.client().get('/no/such/page')
    assert.equal(page.statusCode, 404)
    assert.match(page.body, /<h1>Not found<\/h1>/)
    const json = await h.client().json('GET', '/no/such/page')
    assert.deepEqual(json.json(), { error: { code: 'not_found', message: 'There is no page here.' } })
    const broken = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: '{"email": ',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    })
    assert.equal(broken.statusCode, 400)
    assert.equal(broken.json().error.code, 'bad_request')
    assert.doesNotMatch(broken.body, /at .*\.(js|ts):\d+/)
  })

  test('rate limits answer 429 with Retry-After, as JSON or as a page', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const api = h.client()
    const { logIn, signUp, reset } = RATE_RULES
    for (let i = 0; i < logIn.limit; i++) {
      assert.equal((await api.json('POST', '/auth/login', { email: ann.email, password: 'wrong' })).statusCode, 401)
    }
    const limited = await api.json('POST', '/auth/login', { email: ann.email, password: 'wrong' })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.json().error.code, 'rate_limited')
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(retryAfter > 0 && retryAfter <= logIn.windowMs / 1000, `Retry-After: ${retryAfter}`)
    const page = await h.client().form('/auth/login', { email: ann.email, password: 'wrong' })
    assert.equal(page.statusCode, 429)
    assert.match(page.body, /Slow down/)

    for (let i = 0; i < signUp.limit; i++) await api.json('POST', '/auth/register', { ...ann, username: `ann${i}` })
    assert.equal((await api.json('POST', '/auth/register', ann)).statusCode, 429, 'sign-up')
    for (let i = 0; i < reset.limit; i++) await api.json('POST', '/auth/reset', { email: `x${i}@example.test` })
    assert.equal((await api.json('POST', '/auth/reset', { email: 'y@example.test' })).statusCode, 429, 'reset')
  })

  test('resend is rate-limited per user', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const api = h.client()
    await api.json('POST', '/auth/register', ann)
    await api.json('POST', '/auth/login', { email: ann.email, password: ann.password })
    const codes = []
    for (let i = 0; i <= RATE_RULES.resend.limit; i++) codes.push((await api.json('POST', '/auth/confirm/resend', {})).statusCode)
    assert.deepEqual(codes, [...Array<number>(RATE_RULES.resend.limit).fill(202), 429])
  })

  test('/healthz reports health only: no outbox counts to tell which addresses were mailed', async () => {
    const h = await webHarness()
    await h.client().json('POST', '/auth/register', ann)
    await h.mailTo(ann.email)
    const health = await h.client().get('/healthz')
    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { status: 'ok', db: 'ok' })
  })
})
