import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { after, describe, test } from 'node:test'
import nodemailer from 'nodemailer'
import type { Browser, Page } from 'playwright-core'
import { transaction } from '../../src/db/index.ts'
import { devInboxStore, startCaptureServer } from '../../src/dev/index.ts'
import { browserMissing, freePort, launchBrowser, logInInBrowser } from '../helpers/browser.ts'
import { silentLogger } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { confirmedUser, linkIn, type TestUser, type WebHarness, webHarness } from '../helpers/web.ts'
import { COLOUR_MATH } from '../helpers/contrast.ts'

// Issue 14, point 7: every page, logged out and in, admin and dev pages included, checked in
// Chromium by axe-core (WCAG 2.x A and AA) and by what axe does not check: field hints and
// errors tied to their inputs, the focus ring and input borders at 3:1 or more (WCAG 1.4.11),
// and a "Skip to content" link that Tab reaches first.

const missing = browserMissing()
if (missing) console.log(`# skipping browser tests: ${missing}`)

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
/** WCAG 1.4.11: user interface components and focus indicators against what is next to them. */
const NON_TEXT = 3

const PASSWORD = 'correct horse battery'
const ann: TestUser = { email: 'ann@example.test', username: 'ann', password: PASSWORD } // signs up in the browser, stays unconfirmed
const bob: TestUser = { email: 'bob@exampel.test', username: 'bob', password: PASSWORD } // a typo: the confirmation bounces
const cat: TestUser = { email: 'cat@example.test', username: 'cat', password: PASSWORD } // confirmed
const boss: TestUser = { email: 'boss@example.test', username: 'boss', password: PASSWORD } // the admin

// The probes below run in the page. They are strings, as in mail-rendering.browser.test.ts:
// tsx keeps function names with a helper that does not exist in the page, and this project's
// TypeScript has no DOM types.
const COLOUR = `
  ${COLOUR_MATH}
  const backgroundOf = (element) => {
    const layers = []
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor)
      if (c.a > 0) layers.push(c)
      if (c.a >= 1) break
    }
    return layers.reduceRight((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 })
  }
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ((e.textContent || '').trim() ? ' "' + e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 30) + '"' : '')
`

interface Focused {
  /** Which element this is (its place in the document). */
  key: number
  element: string
  tag: string
  text: string
  href: string | null
  targetIsMain: boolean
  inMain: boolean
  outline: string
  ringShown: boolean
  ratio: number
  background: string
  width: number
  height: number
  top: number
  left: number
}

/** The focused element, its focus ring and what lies around it; null when nothing is focused. */
const FOCUSED = `(() => {
  ${COLOUR}
  const e = document.activeElement
  if (!e || e === document.body || e === document.documentElement) return null
  const s = getComputedStyle(e)
  const around = backgroundOf(e.parentElement)
  const ring = over(parse(s.outlineColor), around)
  const href = e.getAttribute('href')
  const target = href && href.startsWith('#') ? document.getElementById(href.slice(1)) : null
  const main = document.querySelector('main')
  const box = e.getBoundingClientRect()
  return {
    key: [...document.querySelectorAll('*')].indexOf(e),
    element: name(e),
    tag: e.tagName.toLowerCase(),
    text: (e.textContent || '').trim(),
    href,
    targetIsMain: target !== null && target === main,
    inMain: main !== null && main.contains(e),
    outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,
    ringShown: s.outlineStyle !== 'none' && s.outlineStyle !== 'hidden' && parseFloat(s.outlineWidth) >= 2 && parse(s.outlineColor).a > 0,
    ratio: ratio(ring, around),
    background: css(around),
    width: box.width, height: box.height, top: box.top, left: box.left,
  }
})()`

/** The skip link's box while it is not focused (it should take no room then). */
const SKIP_LINK_BOX = `(() => {
  const link = [...document.querySelectorAll('a')].find((a) => a.textContent.trim() === 'Skip to content')
  if (!link) return null
  const box = link.getBoundingClientRect()
  return { width: box.width, height: box.height }
})()`

interface Border {
  element: string
  colour: string
  width: number
  inside: number
  outside: number
}

/** Every visible input's border against its own background and the one around it. */
const BORDERS = `(() => {
  ${COLOUR}
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((e) => e.checkVisibility()).map((e) => {
    const s = getComputedStyle(e)
    const outside = backgroundOf(e.parentElement)
    const inside = backgroundOf(e)
    const border = over(parse(s.borderTopColor), outside)
    return { element: name(e), colour: css(border), width: parseFloat(s.borderTopWidth), inside: ratio(border, inside), outside: ratio(border, outside) }
  })
})()`

/** Field hints and errors not tied to their input; how many were looked at. */
const FIELDS = `(() => {
  const problems = []
  let notes = 0
  for (const field of document.querySelectorAll('.field')) {
    const input = field.querySelector('input, select, textarea')
    if (!input) continue
    const described = (input.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)
    for (const note of field.querySelectorAll('.hint, .error')) {
      notes++
      if (!note.id || !described.includes(note.id)) {
        problems.push('#' + input.id + ': its ' + note.className + ' "' + note.textContent.trim() + '" is not in aria-describedby ("' + described.join(' ') + '")')
      }
    }
    for (const id of described) if (!document.getElementById(id)) problems.push('#' + input.id + ': aria-describedby names #' + id + ', which is not on the page')
    const hasError = field.querySelector('.error') !== null
    if (hasError !== (input.getAttribute('aria-invalid') === 'true')) {
      problems.push('#' + input.id + ': ' + (hasError ? 'has an error but no aria-invalid="true"' : 'aria-invalid="true" without an error'))
    }
  }
  return { problems, notes }
})()`

const AXE_RUN = `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_TAGS)} }, resultTypes: ['violations'] })
  .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) })))`

interface Violation {
  id: string
  impact: string | null
  help: string
  targets: string[]
}

interface Findings {
  pages: string[]
  axe: string[]
  /** What axe finds on a page spoiled on purpose: proof that it runs and can fail. */
  canary: string[]
  fields: string[]
  notes: number
  contrast: string[]
  focusChecked: number
  lowestRing: number
  bordersChecked: number
  lowestBorder: number
  keyboard: string[]
}

/** Runs every check on the page as it is now (freshly loaded: nothing focused yet). */
async function audit(page: Page, label: string, f: Findings): Promise<void> {
  const where = `${label} (${new URL(page.url()).pathname})`
  f.pages.push(where)

  // Tab from the top: the skip link first, shown while focused, taking no room otherwise.
  const hidden = (await page.evaluate(SKIP_LINK_BOX)) as { width: number; height: number } | null
  if (!hidden) f.keyboard.push(`${where}: no "Skip to content" link`)
  else if (hidden.width > 1 || hidden.height > 1) f.keyboard.push(`${where}: the skip link shows (${hidden.width}×${hidden.height} px) before it is focused`)
  await page.keyboard.press('Tab')
  const first = (await page.evaluate(FOCUSED)) as Focused | null
  if (first?.text !== 'Skip to content' || !first.targetIsMain) {
    f.keyboard.push(`${where}: Tab from the top reaches ${first ? `${first.element} (href ${first.href})` : 'nothing'}, not a "Skip to content" link to <main>`)
  } else if (first.width < 20 || first.height < 10 || first.top < 0 || first.left < 0) {
    f.keyboard.push(`${where}: the focused skip link is not visible (${first.width}×${first.height} px at ${first.left}, ${first.top})`)
  }

  // Every element Tab reaches (up to a frame, whose content is the email's): a ring at 3:1.
  const seen = new Set<number>()
  for (let focused = first, i = 0; focused && focused.tag !== 'iframe' && i < 80; i++) {
    if (seen.has(focused.key)) break
    seen.add(focused.key)
    f.focusChecked++
    f.lowestRing = Math.min(f.lowestRing, focused.ratio)
    if (!focused.ringShown) f.contrast.push(`${where}: ${focused.element} shows no focus ring (outline ${focused.outline})`)
    else if (focused.ratio < NON_TEXT) {
      f.contrast.push(`${where}: focus ring of ${focused.element} at ${focused.ratio.toFixed(2)}:1 (${focused.outline} on ${focused.background})`)
    }
    await page.keyboard.press('Tab')
    focused = (await page.evaluate(FOCUSED)) as Focused | null
  }

  for (const b of (await page.evaluate(BORDERS)) as Border[]) {
    f.bordersChecked++
    const lowest = Math.min(b.inside, b.outside)
    f.lowestBorder = Math.min(f.lowestBorder, lowest)
    if (b.width < 1 || lowest < NON_TEXT) f.contrast.push(`${where}: border of ${b.element} ${b.width}px ${b.colour} at ${lowest.toFixed(2)}:1`)
  }

  const fields = (await page.evaluate(FIELDS)) as { problems: string[]; notes: number }
  f.notes += fields.notes
  for (const problem of fields.problems) f.fields.push(`${where}: ${problem}`)

  for (const v of await axeViolations(page)) {
    f.axe.push(`${where}: ${v.id} [${v.impact}] ${v.help} — at ${v.targets.join(', ')}`)
  }

  // The skip link takes the focus to the page's main content (where the next Tab goes on from).
  if (first?.text === 'Skip to content' && first.targetIsMain) {
    await page.focus('a[href="#main"]')
    await page.keyboard.press('Enter')
    const next = (await page.evaluate(FOCUSED)) as Focused | null
    if (!next?.inMain) f.keyboard.push(`${where}: the skip link leaves the focus on ${next?.element ?? 'nothing'}, outside <main>`)
  }
}

async function axeViolations(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ content: AXE_SOURCE })
  return (await page.evaluate(AXE_RUN)) as Violation[]
}

async function visit(page: Page, path: string, label: string, f: Findings, status = 200): Promise<void> {
  const response = await page.goto(new URL(path, page.url()).href)
  assert.equal(response?.status(), status, `${label}: GET ${path}`)
  await audit(page, label, f)
}


/** A browser session of its own (cookies); CSP bypassed so that axe's source can be injected. */
async function session(browser: Browser, baseUrl: string): Promise<Page> {
  const context = await browser.newContext({ bypassCSP: true })
  const page = await context.newPage()
  await page.goto(`${baseUrl}/healthz`)
  return page
}

async function enqueue(h: WebHarness, to: string, options: { runAt?: Date } = {}) {
  const context = { sentAt: 'now', baseUrl: 'http://x' }
  return transaction(h.db.kysely, (trx) => h.deps.outbox.enqueue(trx, { template: 'system/test', to, subject: 'Hi', context }, options))
}

/** Walks through every page once, as four people would, and collects what the checks find. */
async function tour(): Promise<Findings> {
  const f: Findings = {
    pages: [], axe: [], canary: [], fields: [], notes: 0, contrast: [], focusChecked: 0, lowestRing: Infinity,
    bordersChecked: 0, lowestBorder: Infinity, keyboard: [],
  }
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const unknownMailbox = { code: 550, message: '5.1.1 Recipient address rejected: User unknown' }
  const h = await webHarness({
    devInbox: true,
    env: { BASE_URL: baseUrl, RAGTIME_ADMIN: boss.email, RAGTIME_MAIL_RETRY_FIRST: '1h', RAGTIME_MAIL_RETRY_MAX: '1h' },
    sink: {
      verdict: (_n, raw) => {
        if (/^To: (bob@exampel|gone@example)\.test/m.test(raw)) return unknownMailbox
        if (/^To: later@example\.test/m.test(raw)) return { code: 451, message: '4.2.0 mailbox busy, try later' }
        return 'accept'
      },
    },
  })
  await h.app.listen({ host: '127.0.0.1', port })
  await confirmedUser(h, h.client(), cat)
  await confirmedUser(h, h.client(), boss)
  const browser = await launchBrowser()

  // Logged out.
  const out = await session(browser, baseUrl)
  await visit(out, '/', 'home, logged out', f)
  await visit(out, '/auth/register', 'sign-up', f)
  await out.fill('#email', 'ann@')
  await out.fill('#username', '1')
  await out.fill('#password', 'short')
  await out.click('main button[type=submit]')
  await out.waitForLoadState()
  await audit(out, 'sign-up, with field errors', f)
  await out.fill('#email', ann.email)
  await out.fill('#username', ann.username)
  await out.fill('#password', ann.password)
  await out.click('main button[type=submit]')
  await out.waitForURL(/\/auth\/check-email/)
  await audit(out, 'check your email', f)
  await visit(out, '/auth/login', 'log-in', f)
  await out.click('main button[type=submit]')
  await out.waitForLoadState()
  await audit(out, 'log-in, submitted empty', f)
  await visit(out, '/auth/reset', 'reset request', f)
  await out.fill('#email', cat.email)
  await out.click('main button[type=submit]')
  await out.waitForURL(/\/auth\/reset\?sent=1/)
  await audit(out, 'reset request, sent', f)
  const reset = linkIn(await h.mailTo(cat.email, { subject: /Reset your password/ }), /\/auth\/reset\/[A-Za-z0-9_-]{43}/, baseUrl)
  await visit(out, reset, 'reset, with a token', f)
  await out.fill('#password', 'short')
  await out.click('main button[type=submit]')
  await out.waitForLoadState()
  await audit(out, 'reset, with a field error', f)
  const confirm = linkIn(await h.mailTo(ann.email, { subject: /Confirm your account/ }), /\/auth\/confirm\/[A-Za-z0-9_-]{43}/, baseUrl)
  await visit(out, confirm, 'confirm, with a token', f)
  await visit(out, `/auth/confirm/${'x'.repeat(43)}`, 'bad link', f, 400)
  await visit(out, '/no/such/page', 'not found', f, 404)

  // Logged in, unconfirmed: waiting for the link, then a bounce with the correction form.
  const pending = await session(browser, baseUrl)
  await logInInBrowser(pending, baseUrl, ann)
  assert.match(pending.url(), /\/auth\/unconfirmed$/)
  await audit(pending, 'unconfirmed, on its way', f)
  await visit(pending, '/auth/change-email', 'change-email, unconfirmed (sent to the unconfirmed page)', f)
  await h.client().json('POST', '/auth/register', bob)
  const bounced = await session(browser, baseUrl)
  await logInInBrowser(bounced, baseUrl, bob)
  await bounced.waitForSelector('#delivery[data-state="failed"]', { timeout: 15_000 })
  await visit(bounced, '/auth/unconfirmed', 'unconfirmed, bounced, with the correction form', f)
  assert.ok(await bounced.isVisible('#correct-address #email'), 'the correction form is shown')
  await bounced.fill('#correct-address #email', 'bob@')
  await bounced.fill('#correct-address #password', 'not the password')
  await bounced.click('#correct-address button[type=submit]')
  await bounced.waitForLoadState()
  await audit(bounced, 'unconfirmed, correction with field errors', f)

  // Logged in, confirmed.
  const member = await session(browser, baseUrl)
  await logInInBrowser(member, baseUrl, cat)
  await visit(member, '/', 'home, logged in', f)
  await visit(member, '/auth/change-email', 'change-email', f)
  await member.fill('#email', 'cat@')
  await member.fill('#password', 'not the password')
  await member.click('main button[type=submit]')
  await member.waitForLoadState()
  await audit(member, 'change-email, with field errors', f)
  await member.fill('#email', 'cat2@example.test')
  await member.fill('#password', cat.password)
  await member.click('main button[type=submit]')
  await member.waitForURL(/\/auth\/change-email\?/)
  await audit(member, 'change-email, sent', f)
  const change = linkIn(await h.mailTo('cat2@example.test'), /\/auth\/change-email\/[A-Za-z0-9_-]{43}/, baseUrl)
  await visit(member, change, 'change-email confirm, with a token', f)
  await member.click('main button[type=submit]')
  await member.waitForLoadState()
  await audit(member, 'change-email, done', f)
  await visit(member, '/admin/mail', 'admin page, not the admin', f, 403)

  // The admin's dashboard with failing (dead, retrying, suppressed) and queued mail.
  const gone = await enqueue(h, 'gone@example.test')
  const later = await enqueue(h, 'later@example.test')
  await enqueue(h, 'queued@example.test', { runAt: new Date(Date.now() + 3_600_000) })
  await h.deps.outbox.waitFor(gone, 'dead')
  await h.deps.outbox.waitFor(later, 'retrying')
  await h.deps.outbox.waitFor(await enqueue(h, 'gone@example.test'), 'suppressed')
  const admin = await session(browser, baseUrl)
  await logInInBrowser(admin, baseUrl, boss)
  await visit(admin, '/admin/mail', 'outbox dashboard', f)
  for (const rows of ['table.failing tbody tr', 'table.queued tbody tr', 'table.suppressions tbody tr']) {
    assert.ok((await admin.locator(rows).count()) > 0, `the dashboard lists ${rows}`)
  }
  await admin.click('button:has-text("Retry all")')
  await admin.waitForLoadState()
  await audit(admin, 'admin action, asking to confirm', f)

  // The dev inbox, with the confirmation email in it, caught over SMTP as `serve` catches it.
  const capture = await startCaptureServer({ store: devInboxStore(h.db), port: 0, logger: silentLogger })
  after(() => capture.close())
  const mail = h.sink.received.find((m) => m.envelope.to.includes(ann.email))
  assert.ok(mail, 'the sink has ann’s confirmation')
  await nodemailer.createTransport({ host: '127.0.0.1', port: capture.port, ignoreTLS: true }).sendMail({ envelope: mail.envelope, raw: mail.raw })
  await visit(out, '/dev/mail', 'dev inbox', f)
  await out.click('.inbox a')
  await out.waitForURL(/\/dev\/mail\/\d+$/)
  await audit(out, 'dev inbox message', f)
  await visit(out, '/dev/mail/previews', 'email previews', f)

  // The same check on a page spoiled on purpose: no language, an input without a label.
  await out.goto(`${baseUrl}/`)
  await out.evaluate(`document.documentElement.removeAttribute('lang'); document.querySelector('main').insertAdjacentHTML('beforeend', '<input id="canary">')`)
  f.canary = (await axeViolations(out)).map((v) => v.id)
  return f
}

let touring: Promise<Findings> | undefined
/** One tour for every test below; each reports one kind of finding. */
const findings = () => (touring ??= tour())

// The pages' markup is the same whichever database holds the data: one pass audits it (the
// flows behind each page run on both, in their own tests).
const skip = missing ?? (ON_POSTGRES ? 'the markup does not depend on the database: audited on the SQLite pass' : undefined)

describe('accessibility of every page, in a real browser', { skip }, () => {
  test('axe-core finds no WCAG 2.x A or AA violation on any page (logged out, unconfirmed, confirmed, admin, dev, errors)', { timeout: 240_000 }, async () => {
    const f = await findings()
    console.log(`# audited ${f.pages.length} pages: ${f.pages.join('; ')}`)
    assert.ok(f.pages.length >= 29, `every page was audited (${f.pages.length})`)
    assert.equal(f.axe.length, 0, `axe-core found:\n${f.axe.join('\n')}`)
    assert.deepEqual(f.canary.filter((id) => id === 'html-has-lang' || id === 'label').sort(), ['html-has-lang', 'label'], `on a spoiled page, axe-core found ${f.canary.join(', ')}`)
  })

  test('every field hint and error is tied to its input (aria-describedby); an error sets aria-invalid', async () => {
    const f = await findings()
    assert.ok(f.notes >= 10, `hints and errors were looked at (${f.notes})`)
    assert.equal(f.fields.length, 0, f.fields.join('\n'))
  })

  test('the focus ring on everything Tab reaches, and every input border, stand at 3:1 or more against the background', async () => {
    const f = await findings()
    console.log(`# lowest focus ring ${f.lowestRing.toFixed(2)}:1 over ${f.focusChecked} focus stops; lowest input border ${f.lowestBorder.toFixed(2)}:1 over ${f.bordersChecked} inputs`)
    assert.ok(f.focusChecked > 50 && f.bordersChecked > 15, 'the checks ran')
    assert.equal(f.contrast.length, 0, f.contrast.join('\n'))
  })

  test('Tab from the top of every page reaches "Skip to content" first, shown on focus; it leads into <main>', async () => {
    const f = await findings()
    assert.equal(f.keyboard.length, 0, f.keyboard.join('\n'))
  })
})
