import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import nodemailer from 'nodemailer'
import { browserMissing, freePort, launchBrowser, signUpInBrowser } from '../helpers/browser.ts'
import { spawnRagtime } from '../helpers/cli.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'



const missing = browserMissing()
if (missing) console.log(`# skipping browser tests: ${missing}`)
// These start `serve` with no configuration at all: SQLite, whichever pass this is.
const embedded = ON_POSTGRES ? 'the embedded default is SQLite: tested on the SQLite pass' : missing

function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ragtime-demo-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `ragtime serve` in `cwd` with exactly `env`; resolves once its banner says it is running. */
async function serve(cwd: string, env: Record<string, string>) {
  const server = spawnRagtime(['serve'], { HOME: cwd, ...env }, cwd)
  // Seconds on an idle machine; the bound leaves room for a loaded CI runner.
  const deadline = Date.now() + 45_000
  while (!/Ragtime is running/.test(server.stderr())) {
    if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`serve did not start:\n${server.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return server
}

describe('the embedded demo (npm start with no configuration)', { skip: embedded }, () => {
  test('with no configuration but its ports: home page and inbox; a sign-up’s email arrives live; its link confirms (Chromium)', { timeout: 120_000 }, async () => {
    const cwd = freshDir()
    // `npm start` is `node bin/ragtime.js serve`. Its default ports (3000, and 1025 for the dev
    // inbox's SMTP: test/config) may be taken by a running `npm start`: free ones here.
    const [port, smtpPort] = [await freePort(), await freePort()]
    const ports = { PORT: String(port), RAGTIME_DEV_SMTP_PORT: String(smtpPort) }
    const base = `http://localhost:${port}`
    const server = await serve(cwd, ports)
    assert.match(server.stderr(), new RegExp(`dev inbox: ${base}/dev/mail`))
    assert.equal((await fetch(`${base}/`)).status, 200)
    assert.equal((await fetch(`${base}/dev/mail`)).status, 200)

    const browser = await launchBrowser()
    const inbox = await browser.newPage({ viewport: { width: 1000, height: 640 } })
    await inbox.goto(`${base}/dev/mail`)
    await signUpInBrowser(await browser.newPage(), base, { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' })

    // The open inbox updates by itself (server-sent events), within a few seconds.
    await inbox.waitForSelector('text=Ragtime — Confirm your account', { timeout: 10_000 })
    await inbox.click('text=Ragtime — Confirm your account')
    await inbox.waitForURL(/\/dev\/mail\/\d+$/)
    assert.match(await inbox.textContent('main') ?? '', /ann@example\.test/)
    const frame = inbox.frameLocator('iframe.mail-html')
    await frame.locator('a.button').click()
    await inbox.waitForURL(/\/auth\/confirm\/[A-Za-z0-9_-]{43}$/)
    await inbox.click('button:has-text("Confirm")')
    await inbox.waitForURL('**/?confirmed=1')
    assert.match(await inbox.textContent('header') ?? '', /Signed in as ann/)

    server.child.kill('SIGTERM')
    assert.equal((await server.exited).code, 0)
    // The inbox is kept across restarts.
    const again = await serve(cwd, ports)
    const kept = (await (await fetch(`${base}/dev/mail/messages`)).json()) as { subject: string }[]
    assert.equal(kept[0]?.subject, 'Ragtime — Confirm your account')
    again.child.kill('SIGTERM')
    await again.exited
  })

  test('hostile HTML in a caught email does not run in the inbox', { timeout: 120_000 }, async () => {
    const cwd = freshDir()
    const [port, smtpPort] = [await freePort(), await freePort()]
    const server = await serve(cwd, { PORT: String(port), RAGTIME_DEV_SMTP_PORT: String(smtpPort) })
    await nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, ignoreTLS: true }).sendMail({
      from: 'evil@example.test',
      to: 'ann@example.test',
      subject: 'Hostile',
      html: `<p>hi</p><script>top.document.title = 'pwned'; alert('script')</script>
        <img src="x" onerror="top.document.title = 'pwned'; alert('onerror')"><svg onload="alert('svg')"></svg>`,
    })
    const browser = await launchBrowser()
    const page = await browser.newPage()
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    const [caught] = (await (await fetch(`http://localhost:${port}/dev/mail/messages`)).json()) as { id: number }[]
    await page.goto(`http://localhost:${port}/dev/mail/${caught?.id}`)
    // The frame's load event comes once its <script> and <svg onload> have run (they run as they
    // are parsed) and its broken <img> has fired onerror: a dialog any of them opened is in by then.
    const frame = page.frames().find((f) => /\/dev\/mail\/\d+\/html$/.test(f.url()))
    assert.ok(frame, 'the message’s HTML frame')
    await frame.waitForLoadState('load')
    await frame.locator('text=hi').waitFor()
    assert.deepEqual(dialogs, [])
    assert.equal(await page.title(), 'Hostile · Ragtime')
    server.child.kill('SIGTERM')
    await server.exited
  })
})

describe('production mode', { skip: ON_POSTGRES ? 'SQLite pass only' : undefined }, () => {
  test('no capture server listens and /dev/mail answers 404', { timeout: 30_000 }, async () => {
    const sink = await startSmtpSink()
    after(() => sink.close())
    const [port, devPort] = [await freePort(), await freePort()]
    const server = await serve(freshDir(), {
      NODE_ENV: 'production',
      BASE_URL: `http://localhost:${port}`,
      SECRET_KEY: 'a-production-secret-of-32-characters-or-more',
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(sink.port),
      PORT: String(port),
      RAGTIME_DEV_SMTP_PORT: String(devPort),
    })
    try {
      assert.equal((await fetch(`http://localhost:${port}/dev/mail`)).status, 404)
      assert.equal((await fetch(`http://localhost:${port}/dev/mail/messages`)).status, 404)
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect(devPort, '127.0.0.1')
        socket.once('connect', () => (socket.destroy(), resolve(false)))
        socket.once('error', () => resolve(true))
      })
      assert.ok(refused, 'nothing listens on the dev SMTP port')
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
  })
})
