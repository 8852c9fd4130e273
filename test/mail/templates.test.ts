import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { createRenderer, MAIL_TEMPLATES_DIR } from '../../src/mail/index.ts'
import { MAIL_SAMPLES } from '../../templates/mail/samples.ts'

const renderer = createRenderer({ templatesDir: MAIL_TEMPLATES_DIR, subjectPrefix: 'Ragtime — ', sender: 'Ragtime <noreply@ragtime.test>' })

/** Every `<area>/<name>` that has a .txt or an .html file. */
function templateFiles(): string[] {
  const names = new Set<string>()
  for (const area of readdirSync(MAIL_TEMPLATES_DIR, { withFileTypes: true })) {
    if (!area.isDirectory() || area.name === 'layouts') continue
    for (const file of readdirSync(path.join(MAIL_TEMPLATES_DIR, area.name))) {
      names.add(`${area.name}/${file.replace(/\.(txt|html)$/, '')}`)
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
