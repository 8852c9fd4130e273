import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { harness } from '../helpers/outbox.ts'

describe('the delivered message', () => {
  test('has the prefix, the sender, a Date, a Message-ID on the sender’s domain, text then HTML', async () => {
    const h = await harness()
    const id = await h.send('Ann@Example.TEST')
    await h.worker.runOnce()
    const mail = await h.sink.parse(0)
    const raw = h.sink.received[0]?.raw ?? ''
    assert.equal(mail.subject, '[Ragtime] Hello')
    assert.deepEqual(mail.from?.value, [{ name: 'Ragtime', address: 'noreply@ragtime.test' }])
    assert.deepEqual(h.sink.received[0]?.envelope.to, ['Ann@example.test'], 'the domain is lower-cased')
    assert.match(mail.messageId ?? '', /^<[0-9a-f-]{36}@ragtime\.test>$/)
    assert.equal((await h.outbox.get(id))?.messageId, mail.messageId, 'the stored Message-ID is the one sent')
    assert.ok(mail.date instanceof Date && !Number.isNaN(mail.date.getTime()))
    assert.match(raw, /^Content-Type: multipart\/alternative;/m)
    assert.ok(raw.indexOf('Content-Type: text/plain') < raw.indexOf('Content-Type: text/html'), 'text part first')
    assert.match(mail.text ?? '', /This is a test email from Ragtime, sent at noon\./)
    assert.match(mail.text ?? '', /Open Ragtime: http:\/\/localhost:3000/)
    const html = String(mail.html)
    assert.match(html, /<a class="button" href="http:\/\/localhost:3000" style="[^"]*background: #4338ca/, 'CSS inlined')
    // Clients that strip <style> lose only the phone padding and the dark palette, never the layout.
    const style = [...html.matchAll(/<style>([^]*?)<\/style>/g)].map((m) => m[1]).join('')
    assert.doesNotMatch(style.replace(/@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}/g, ''), /\S/, 'only media queries stay in <style>')
    assert.match(html, /<p class="brand"[^>]*>Ragtime<\/p>/, 'the shared layout wraps the body')
  })

  test('non-ASCII subject and display name are encoded and read back intact', async () => {
    const h = await harness({ env: { RAGTIME_MAIL_SENDER: 'Ragtime Über <noreply@ragtime.test>' } })
    await transaction(h.db.kysely, (trx) =>
      h.outbox.enqueue(trx, {
        template: 'system/test',
        to: { name: 'Zoë Ångström', address: 'zoe@example.test' },
        subject: 'Grüße — 你好',
        context: { sentAt: 'midi', baseUrl: 'http://localhost:3000' },
      }),
    )
    await h.worker.runOnce()
    const raw = h.sink.received[0]?.raw ?? ''
    assert.ok(/^[\x00-\x7f]*$/.test(raw), 'the message on the wire is 7-bit')
    const mail = await h.sink.parse(0)
    assert.equal(mail.subject, '[Ragtime] Grüße — 你好')
    assert.deepEqual(mail.to && !Array.isArray(mail.to) ? mail.to.value : [], [{ name: 'Zoë Ångström', address: 'zoe@example.test' }])
    assert.equal(mail.from?.value[0]?.name, 'Ragtime Über')
  })

  test('hostile values: CR/LF never reaches a header, <script> is escaped in HTML', async () => {
    const h = await harness()
    const hostile = '<script>alert("x")</script>\r\nBcc: eve@evil.test'
    await transaction(h.db.kysely, (trx) =>
      h.outbox.enqueue(trx, {
        template: 'system/test',
        to: { name: 'Ann\r\nBcc: eve@evil.test', address: 'ann@example.test' },
        subject: 'Hi\r\nBcc: eve@evil.test\nX-Evil: 1',
        context: { sentAt: hostile, baseUrl: 'http://localhost:3000' },
      }),
    )
    await h.worker.runOnce()
    assert.equal(h.sink.received.length, 1)
    assert.deepEqual(h.sink.received[0]?.envelope.to, ['ann@example.test'], 'no extra recipient')
    const raw = h.sink.received[0]?.raw ?? ''
    const headers = raw.slice(0, raw.indexOf('\r\n\r\n'))
    assert.doesNotMatch(headers, /^(Bcc|X-Evil):/im)
    const mail = await h.sink.parse(0)
    assert.equal(mail.bcc, undefined)
    assert.equal(mail.headers.get('x-evil'), undefined)
    assert.equal(mail.subject, '[Ragtime] Hi Bcc: eve@evil.test X-Evil: 1')
    const html = String(mail.html)
    assert.doesNotMatch(html, /<script/i)
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/)
  })

  test('a wrong context does not compile', () => {
    // Checked by `npm run typecheck`: each line below must be a type error.
    const check = (_: unknown) => {}
    check(async (h: Awaited<ReturnType<typeof harness>>) => {
      await transaction(h.db.kysely, (trx) =>
        h.outbox.enqueue(trx, {
          template: 'system/test',
          to: 'ann@example.test',
          subject: 'Hello',
          // @ts-expect-error: system/test needs sentAt and baseUrl, not username
          context: { username: 'ann' },
        }),
      )
      await transaction(h.db.kysely, (trx) =>
        // @ts-expect-error: there is no such template
        h.outbox.enqueue(trx, { template: 'system/nope', to: 'a@b.test', subject: 'x', context: {} }),
      )
    })
  })
})
