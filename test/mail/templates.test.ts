import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { Eta } from 'eta'
import juice from 'juice'
import { createRenderer, MAIL_TEMPLATES_DIR } from '../../src/mail/index.ts'
import { MAIL_SAMPLES } from '../../templates/mail/samples.ts'
import { tempDir } from '../helpers/env.ts'

const renderer = createRenderer({ templatesDir: MAIL_TEMPLATES_DIR, subjectPrefix: 'Ragtime — ', sender: 'Ragtime <noreply@ragtime.test>' })

/** Every `<area>/<name>` that has a .txt or an .html file. */
function templateFiles(): string[] {
  const names = new Set<string>()
  // statSync, not the entry's own type: compiled (dist/templates/mail) the folders are symlinks.
  for (const area of readdirSync(MAIL_TEMPLATES_DIR)) {
    if (area === 'layouts' || !statSync(path.join(MAIL_TEMPLATES_DIR, area)).isDirectory()) continue
    for (const file of readdirSync(path.join(MAIL_TEMPLATES_DIR, area))) {
      names.add(`${area}/${file.replace(/\.(txt|html)$/, '')}`)
    }
  }
  return [...names].sort()
}

describe('every email template renders from its sample data', () => {
  test('each template has both files and a sample', () => {
    const files = templateFiles()
    assert.deepEqual(files, Object.keys(MAIL_SAMPLES).sort())
    for (const name of files) {
      for (const ext of ['txt', 'html']) {
        assert.ok(readdirSync(path.join(MAIL_TEMPLATES_DIR, path.dirname(name))).includes(`${path.basename(name)}.${ext}`), `${name}.${ext}`)
      }
    }
  })

  for (const [name, sample] of Object.entries(MAIL_SAMPLES)) {
    test(name, async () => {
      const mail = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      assert.equal(mail.subject, `Ragtime — ${sample.subject}`)
      assert.ok(mail.text.trim().length > 20)
      assert.match(mail.html, /<p class="brand"[^>]*>Ragtime<\/p>/)
      for (const value of Object.values(sample.context)) {
        if (typeof value === 'string' && value.startsWith('http')) {
          assert.ok(mail.text.includes(value), `text part carries ${value}`)
          assert.ok(mail.html.includes(`href="${value}"`), `HTML part links ${value}`)
        }
      }
    })
  }
})

/** Every URL in a text part, exactly as a reader's mail client would cut it: up to whitespace. */
function textUrls(text: string): string[] {
  return [...text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0])
}

/** Every href of the HTML part that is an absolute URL, with the HTML escapes undone. */
function htmlLinks(html: string): string[] {
  const unescape = (s: string) =>
    s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
  return [...html.matchAll(/\bhref="([^"]*)"/g)].map((m) => unescape(m[1] ?? '')).filter((href) => /^https?:\/\//.test(href))
}

describe('the text part carries the same links as the HTML part, each one whole', () => {
  for (const [name, sample] of Object.entries(MAIL_SAMPLES)) {
    test(name, async () => {
      const mail = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      const inText = textUrls(mail.text)
      const inHtml = htmlLinks(mail.html)
      for (const url of inText) assert.ok(inHtml.includes(url), `the text part's ${JSON.stringify(url)} is a link of the HTML part (${inHtml.join(', ')})`)
      for (const url of inHtml) assert.ok(inText.includes(url), `the HTML part's link ${url} is in the text part (${inText.join(', ')})`)
      for (const value of Object.values(sample.context)) {
        if (typeof value === 'string' && /^https?:\/\//.test(value)) assert.ok(inText.includes(value), `the text part has ${value} on its own`)
      }
    })

    test(`${name}: every line of the .txt template is a line of the text part`, async () => {
      // A tag that eats the newline after it joins two lines ("…/auth/loginForgot your password?").
      const source = readFileSync(path.join(MAIL_TEMPLATES_DIR, `${name}.txt`), 'utf8')
      const lines = source.split('\n').filter((line) => !/^<%\s*layout\(/.test(line))
      while (lines.length > 0 && lines.at(-1) === '') lines.pop()
      while (lines.length > 0 && lines[0] === '') lines.shift()
      const mail = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      const [body, signature] = mail.text.split(/\n\n--\n/)
      assert.equal(signature, 'Ragtime\n', 'the signature follows one blank line')
      assert.equal(body?.split('\n').length, lines.length, `line count of:\n${mail.text}`)
    })
  }
})

describe('the HTML part is built for mail clients', () => {
  const preheaders = new Map<string, string>()
  for (const [name, sample] of Object.entries(MAIL_SAMPLES)) {
    test(name, async () => {
      const { html } = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      const preheader = /<div class="preheader" style="([^"]*)">([^<&]*)/.exec(html)
      assert.ok(preheader, 'a preheader, first in the body')
      for (const hidden of ['display: none', 'max-height: 0', 'opacity: 0', 'mso-hide: all']) assert.ok(preheader[1]?.includes(hidden), `preheader hidden with ${hidden}`)
      const summary = (preheader[2] ?? '').trim()
      assert.ok(summary.length > 10, 'the preheader has a summary')
      assert.equal(preheaders.get(summary), undefined, `"${summary}" is its own`)
      preheaders.set(summary, name)
      assert.match(html, /<meta name="color-scheme" content="light dark">/)
      assert.match(html, /<meta name="supported-color-schemes" content="light dark">/)
      assert.match(html, /<style>[^]*@media \(prefers-color-scheme: dark\)[^]*<\/style>/, 'the dark palette survives inlining')
      const tables = html.match(/<table\b[^>]*>/g) ?? []
      assert.ok(tables.length >= 2, 'laid out with tables')
      for (const table of tables) assert.match(table, /role="presentation"/)
      assert.equal(html.match(/<div\b/g)?.length, 1, 'no <div> but the preheader')
      assert.match(html, /<table role="presentation" class="card" width="100%"[^>]*style="[^"]*max-width: 600px/)
    })
  }
})

describe('CSS inlining', () => {
  test('every template is inlined exactly as juice does with its defaults (the renderer skips its custom-property pass only where nothing uses it)', async () => {
    const eta = new Eta({ views: MAIL_TEMPLATES_DIR, autoEscape: true, autoTrim: false })
    for (const [name, sample] of Object.entries(MAIL_SAMPLES)) {
      const mail = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      const expected = juice(eta.render(`${name}.html`, { ...sample.context, subject: mail.subject }))
      assert.equal(mail.html, expected, name)
    }
  })

  test('a template with CSS custom properties has them resolved, and unused declarations dropped, as juice does by default', async () => {
    const dir = tempDir()
    mkdirSync(path.join(dir, 'area'))
    writeFileSync(path.join(dir, 'area/vars.html'), '<style>:root { --brand: #123456; } p { color: var(--brand); }</style><p>Hi <%= it.name %></p>')
    writeFileSync(path.join(dir, 'area/vars.txt'), 'Hi <%= it.name %>')
    // Declared but never used: juice drops the declaration, so the pass runs here too.
    writeFileSync(path.join(dir, 'area/declared.html'), '<style>p { --unused: 1px; color: red; }</style><p>Hi <%= it.name %></p>')
    writeFileSync(path.join(dir, 'area/declared.txt'), 'Hi <%= it.name %>')
    const own = createRenderer({ templatesDir: dir, sender: 'noreply@example.test' })
    const render = (template: string) => own.render({ template, to: 'ann@example.test', subject: 'Hi', context: { name: 'Ann' } } as never, new Date())
    assert.match((await render('area/vars')).html, /<p style="color: #123456;">Hi Ann<\/p>/)
    assert.match((await render('area/declared')).html, /<p style="color: red;">Hi Ann<\/p>/)
  })
})
