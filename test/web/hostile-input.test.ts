import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { webHarness } from '../helpers/web.ts'

const good = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }
const MB = 'x'.repeat(1024 * 1024)

/** [what, fields to send, expected status, the field the error names]. */
const REFUSED: [string, Record<string, unknown>, number, string?][] = [
  ['CR/LF + Bcc in the email', { email: 'ann@example.test\r\nBcc: eve@evil.test' }, 400, 'email'],
  ['LF alone in the email', { email: 'ann@example.test\nBcc: eve@evil.test' }, 400, 'email'],
  ['%0d%0a + Bcc in the email', { email: 'ann@example.test%0d%0aBcc:eve@evil.test' }, 400, 'email'],
  ['two addresses', { email: 'ann@example.test, eve@evil.test' }, 400, 'email'],
  ['CR/LF + Bcc in the username', { username: 'ann\r\nBcc: eve@evil.test' }, 400, 'username'],
  ['<script> in the username', { username: '<script>alert(1)</script>' }, 400, 'username'],
  ['quotes in the username', { username: `ann"'><b>` }, 400, 'username'],
  ['local part over 64', { email: `${'a'.repeat(65)}@example.test` }, 400, 'email'],
  ['address over 254', { email: `${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.test` }, 400, 'email'],
  ['NUL in the email', { email: 'ann\u0000@example.test' }, 400, 'email'],
  ['NUL in the username', { username: 'ann\u0000' }, 400, 'username'],
  ['NUL in the password', { password: 'correct\u0000horse battery' }, 400, 'password'],
  ['RTL override in the email', { email: 'ann\u202e@example.test' }, 400, 'email'],
  ['zero-width space in the email', { email: 'an\u200bn@example.test' }, 400, 'email'],
  ['zero-width joiner in the username', { username: 'an\u200dn' }, 400, 'username'],
  ['Unicode local part', { email: 'ännä@example.test' }, 400, 'email'],
  ['short password', { password: 'short' }, 400, 'password'],
  ['password over 128', { password: 'p'.repeat(129) }, 400, 'password'],
  ['a number for the email', { email: 12345 }, 400, 'email'],
  ['an array for the username', { username: ['ann'] }, 400, 'username'],
  ['an object for the password', { password: { $gt: '' } }, 400, 'password'],
  ['missing email', { email: undefined }, 400, 'email'],
  ['a 1 MB field', { username: MB }, 413],
]

describe('hostile input on the sign-up form and API', () => {
  for (const [what, change, status, field] of REFUSED) {
    test(`${what}: ${status}`, async () => {
      const h = await webHarness({ worker: false })
      const answer = await h.client().json('POST', '/auth/register', { ...good, ...change })
      assert.equal(answer.statusCode, status, answer.body.slice(0, 300))
      const error = answer.json().error
      assert.equal(typeof error.message, 'string')
      if (field) assert.equal(typeof error.fields[field], 'string', JSON.stringify(error))
      assert.equal((await h.db.kysely.selectFrom('users').select('id').execute()).length, 0)
      assert.equal((await h.deps.outbox.list()).length, 0, 'nothing was enqueued')
    })
  }

  test('as a form: each refusal re-renders the page with the value escaped, never raw', async () => {
    const h = await webHarness({ worker: false })
    const browser = h.client()
    await browser.get('/auth/register')
    const answer = await browser.form('/auth/register', { ...good, username: `<script>alert("x")</script>`, email: `"><img src=x onerror=alert(1)>@example.test` })
    assert.equal(answer.statusCode, 400)
    assert.doesNotMatch(answer.body, /<script>alert/)
    assert.doesNotMatch(answer.body, /<img src=x/)
    assert.match(answer.body, /value="&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;"/)
    assert.match(answer.body, /aria-invalid="true"/)
  })

  test('missing fields: each one is named', async () => {
    const h = await webHarness({ worker: false })
    const answer = await h.client().json('POST', '/auth/register', {})
    assert.equal(answer.statusCode, 400)
    assert.deepEqual(Object.keys(answer.json().error.fields).sort(), ['email', 'password', 'username'])
  })

  test('an IDN address is accepted and mailed in its ASCII form; Unicode passwords are fine', async () => {
    const h = await webHarness()
    const answer = await h.client().json('POST', '/auth/register', { ...good, email: 'Ann@Bücher.Example', password: 'пароль-密码-🔑' })
    assert.equal(answer.statusCode, 202)
    // smtp-server shows the envelope's domain decoded again; the message itself is ASCII.
    const mail = await h.mailTo('Ann@bücher.example')
    assert.equal(mail.subject, 'Ragtime — Confirm your account')
    assert.equal(h.sink.received[0]?.envelope.to.length, 1)
    assert.match(h.sink.received[0]?.raw ?? '', /^To: Ann@xn--bcher-kva\.example\r?$/m)
    assert.equal((await h.deps.outbox.list())[0]?.recipient, 'Ann@xn--bcher-kva.example')
  })

  test('JSON where a form is expected and the reverse; other bodies are refused', async () => {
    const h = await webHarness({ worker: false })
    // JSON to the page route works (it is the same route) and answers JSON when asked.
    const json = await h.client().json('POST', '/auth/register', good)
    assert.equal(json.statusCode, 202)
    // A form asking for JSON still needs its CSRF token.
    const form = await h.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: new URLSearchParams(good).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    })
    assert.equal(form.statusCode, 403)
    assert.equal(form.json().error.code, 'bad_csrf_token')
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml']) {
      const other = await h.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: 'email=a@b.test',
        headers: { 'content-type': type, accept: 'application/json' },
      })
      assert.equal(other.statusCode, 415, type)
    }
    const array = await h.client().json('POST', '/auth/register', [good])
    assert.equal(array.statusCode, 400)
  })

  test('hostile input on every other form: 4xx or accepted, never a 500, never an extra recipient', async () => {
    const h = await webHarness()
    const api = h.client()
    const hostile = [
      'ann@example.test\r\nBcc: eve@evil.test',
      '<script>alert(1)</script>',
      MB.slice(0, 60_000),
      'ann\u0000@example.test',
      '\u202eann@example.test',
      { nested: true },
    ]
    const routes: [string, (v: unknown) => Record<string, unknown>][] = [
      ['/auth/login', (v) => ({ email: v, password: v })],
      ['/auth/reset', (v) => ({ email: v })],
      ['/auth/reset/' + 'A'.repeat(43), (v) => ({ password: v })],
      ['/auth/confirm/%0d%0aBcc:x', () => ({})],
      ['/auth/change-email', (v) => ({ email: v, password: v })],
    ]
    for (const [url, body] of routes) {
      for (const value of hostile) {
        const answer = await api.json('POST', url, body(value))
        assert.ok(answer.statusCode >= 400 && answer.statusCode < 500, `${url} ${JSON.stringify(value).slice(0, 40)}: ${answer.statusCode}`)
        assert.doesNotMatch(answer.body, /<script>/)
      }
    }
    await h.worker.runOnce()
    assert.ok(h.sink.received.every((m) => !m.envelope.to.some((to) => to.includes('evil'))))
  })
})
