import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { browserMissing, freePort, launchBrowser, signUpInBrowser } from '../helpers/browser.ts'
import { linkIn, webHarness } from '../helpers/web.ts'

const missing = browserMissing()
if (missing) console.log(`# skipping browser tests: ${missing}`)

describe('in a real browser', { skip: missing }, () => {
  test('sign up, open the emailed link, press Confirm, arrive logged in and confirmed; then reset the password', async () => {
    const port = await freePort()
    const baseUrl = `http://127.0.0.1:${port}`
    const h = await webHarness({ env: { BASE_URL: baseUrl } })
    await h.app.listen({ host: '127.0.0.1', port })
    const browser = await launchBrowser()
    const page = await browser.newPage()

    await signUpInBrowser(page, baseUrl, { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' })
    assert.match(await page.textContent('h1') ?? '', /Check your email/)

    const mail = await h.mailTo('ann@example.test')
    const link = /http:\/\/127\.0\.0\.1:\d+\/auth\/confirm\/[A-Za-z0-9_-]{43}/.exec(mail.text ?? '')?.[0]
    assert.ok(link, 'the email carries the link')
    await page.goto(link)
    await page.click('button:has-text("Confirm")')
    await page.waitForURL(`${baseUrl}/?confirmed=1`)
    assert.match(await page.textContent('main') ?? '', /Your address is confirmed/)
    assert.match(await page.textContent('header') ?? '', /Signed in as ann/)
    const me = (await page.evaluate(async () => (await fetch('/api/me', { headers: { accept: 'application/json' } })).json())) as { confirmed: boolean }
    assert.equal(me.confirmed, true)

    // The reset flow, from a logged-out browser.
    await page.click('button:has-text("Log out")')
    await page.goto(`${baseUrl}/auth/reset`)
    await page.fill('#email', 'ann@example.test')
    await page.click('button[type=submit]')
    await page.waitForURL(`${baseUrl}/auth/reset?sent=1`)
    const reset = await h.mailTo('ann@example.test', { subject: /Reset your password/ })
    await page.goto(`${baseUrl}${linkIn(reset, /\/auth\/reset\/[A-Za-z0-9_-]{43}/, baseUrl)}`)
    await page.fill('#password', 'a brand new password')
    await page.click('button[type=submit]')
    await page.waitForURL(`${baseUrl}/auth/login?reset=1`)
    await page.fill('#email', 'ann@example.test')
    await page.fill('#password', 'a brand new password')
    await page.click('button[type=submit]')
    await page.waitForURL(`${baseUrl}/`)
    assert.match(await page.textContent('header') ?? '', /Signed in as ann/)
  })
})
