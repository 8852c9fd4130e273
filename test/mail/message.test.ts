import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import ts from 'typescript'
import { transaction } from '../../src/db/index.ts'
import { harness } from '../helpers/outbox.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { ROOT } from '../helpers/root.ts'

const FIXTURE = path.join(ROOT, 'test/fixtures/wrong-context.ts')

/** What tsc reports for `file` under the project's tsconfig.json, with `text` as its contents. */
function typeErrors(file: string, text: string): { file: string | undefined; line: number | undefined; message: string }[] {
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (name) => ts.sys.readFile(name))
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT)
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  host.getSourceFile = (name, target, ...rest) => (name === file ? ts.createSourceFile(name, text, target) : read(name, target, ...rest))
  // The fixture's own diagnostics: checking every file it imports as well is `npm run typecheck`'s
  // job, and took most of this test's time.
  const program = ts.createProgram([file], options, host)
  const source = program.getSourceFile(file)
  if (!source) throw new Error(`${file} is not in the program`)
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
  return diagnostics.map((d) => ({
    file: d.file?.fileName,
    line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : undefined,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }))
}

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

  test('a wrong context, or a template that does not exist, does not compile', { skip: ON_POSTGRES ? 'types: checked on the SQLite pass' : undefined }, () => {
    const fixture = readFileSync(FIXTURE, 'utf8')
    const DIRECTIVE = /^(\s*)\/\/ @ts-expect-error/gm
    const directives = [...fixture.matchAll(DIRECTIVE)].map((m) => fixture.slice(0, m.index).split('\n').length)
    assert.equal(directives.length, 3)
    const errors = typeErrors(FIXTURE, fixture.replace(DIRECTIVE, '$1// expected'))
    assert.ok(errors.every((e) => e.file === FIXTURE), JSON.stringify(errors, null, 2))
    // Each line under a directive, and no other: the right contexts above them compile.
    const lines = [...new Set(errors.map((e) => e.line))]
    assert.deepEqual(lines, directives.map((line) => line + 1), JSON.stringify(errors, null, 2))
    const said = (line: number | undefined) => errors.filter((e) => e.line === line).map((e) => e.message).join('\n')
    assert.match(said(lines[0]), /'username' does not exist in type '\{ sentAt: string; baseUrl: string; \}'/)
    assert.match(said(lines[1]), /Property 'hours' is missing/)
    assert.match(said(lines[2]), /"system\/nope"/)
  })
})
