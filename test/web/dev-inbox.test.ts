import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import nodemailer, { type SendMailOptions } from 'nodemailer'
import { devInboxStore, startCaptureServer } from '../../src/dev/index.ts'
import { silentLogger } from '../helpers/env.ts'
import { webHarness } from '../helpers/web.ts'
import { MAIL_SAMPLES } from '../../templates/mail/samples.ts'

async function harnessWithInbox() {
  const h = await webHarness({ worker: false, devInbox: true })
  const capture = await startCaptureServer({ store: devInboxStore(h.db), port: 0, logger: silentLogger })
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: capture.port, ignoreTLS: true })
  return { h, capture, send: (mail: SendMailOptions) => transport.sendMail(mail), close: () => capture.close() }
}

describe('the dev inbox', () => {
  test('keeps what arrives over SMTP and lists it newest first, as JSON and as a page', async () => {
    const { h, send, close } = await harnessWithInbox()
    try {
      await send({ from: 'a@example.test', to: 'one@example.test', subject: 'First', text: 'one http://localhost:3000/x' })
      await send({ from: 'a@example.test', to: ['two@example.test', 'three@example.test'], subject: 'Second', text: 'two', html: '<p>two</p>' })
      const listing = await h.client().json('GET', '/dev/mail/messages')
      const messages = listing.json() as { id: number; to: string[]; from: string; subject: string; date: string; text: string }[]
      assert.deepEqual(
        messages.map(({ to, from, subject, text }) => ({ to, from, subject, text: text.trim() })),
        [
          { to: ['two@example.test', 'three@example.test'], from: 'a@example.test', subject: 'Second', text: 'two' },
          { to: ['one@example.test'], from: 'a@example.test', subject: 'First', text: 'one http://localhost:3000/x' },
        ],
      )
      assert.ok(messages.every((m) => !Number.isNaN(Date.parse(m.date))))
      const page = await h.client().get('/dev/mail')
      assert.ok(page.body.indexOf('Second') < page.body.indexOf('First'))
      const one = await h.client().get(`/dev/mail/${messages[1]?.id}`)
      assert.match(one.body, /<a href="http:\/\/localhost:3000\/x">http:\/\/localhost:3000\/x<\/a>/, 'links are clickable')
      assert.match(one.body, /Raw source/)
      const two = await h.client().get(`/dev/mail/${messages[0]?.id}`)
      assert.match(two.body, /<iframe class="mail-html"[^>]*sandbox="[^"]*"/)
      assert.doesNotMatch(two.body, /sandbox="[^"]*allow-scripts/)
    } finally {
      await close()
    }
  })

  test('the HTML part is served with a policy that forbids scripts, and the inbox can be emptied', async () => {
    const { h, send, close } = await harnessWithInbox()
    try {
      await send({ from: 'a@example.test', to: 'x@example.test', subject: '<b>hostile</b>', html: '<script>alert(1)</script><img src=x onerror=alert(2)>' })
      const [message] = (await h.client().json('GET', '/dev/mail/messages')).json() as { id: number }[]
      const html = await h.client().get(`/dev/mail/${message?.id}/html`)
      const policy = String(html.headers['content-security-policy'])
      assert.match(policy, /default-src 'none'/)
      assert.match(policy, /sandbox /)
      assert.doesNotMatch(policy, /script-src|allow-scripts/)
      const page = await h.client().get('/dev/mail')
      assert.match(page.body, /&lt;b&gt;hostile&lt;\/b&gt;/, 'the subject is escaped')

      const browser = h.client()
      await browser.get('/dev/mail')
      assert.equal((await browser.form('/dev/mail/clear', {})).statusCode, 303)
      assert.deepEqual((await h.client().json('GET', '/dev/mail/messages')).json(), [])
    } finally {
      await close()
    }
  })

  test('previews: every template rendered with its sample data, HTML and text side by side', async () => {
    const h = await webHarness({ worker: false, devInbox: true })
    const page = await h.client().get('/dev/mail/previews')
    assert.equal(page.statusCode, 200)
    for (const sample of Object.values(MAIL_SAMPLES)) {
      assert.ok(page.body.includes(`src="/dev/mail/previews/${sample.template}/html"`), sample.template)
      const html = await h.client().get(`/dev/mail/previews/${sample.template}/html`)
      assert.equal(html.statusCode, 200)
      assert.match(String(html.headers['content-security-policy']), /sandbox/)
    }
    assert.equal((await h.client().get('/dev/mail/previews/auth/nope/html')).statusCode, 404)
  })

  test('production: every /dev path is a 404', async () => {
    const h = await webHarness({ worker: false, env: { NODE_ENV: 'production' } })
    for (const url of ['/dev/mail', '/dev/mail/messages', '/dev/mail/previews', '/dev/mail/1', '/static/dev-inbox.js']) {
      assert.equal((await h.client().get(url)).statusCode, 404, url)
    }
  })
})
