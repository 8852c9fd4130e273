import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { transaction } from '../../src/db/index.ts'
import { browserMissing, freePort, launchBrowser, logInInBrowser, signUpInBrowser } from '../helpers/browser.ts'
import { confirmedUser, type WebHarness, webHarness } from '../helpers/web.ts'

const missing = browserMissing()
if (missing) console.log(`# skipping browser tests: ${missing}`)

const boss = { email: 'boss@example.test', username: 'boss', password: 'boss password!' }
const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

async function served(options: Parameters<typeof webHarness>[0] = {}) {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const h = await webHarness({ ...options, env: { ...options.env, BASE_URL: baseUrl } })
  await h.app.listen({ host: '127.0.0.1', port })
  return { h, baseUrl }
}


async function enqueue(h: WebHarness, to: string) {
  const context = { sentAt: 'now', baseUrl: 'http://x' }
  return transaction(h.db.kysely, (trx) => h.deps.outbox.enqueue(trx, { template: 'system/test', to, subject: 'Hi', context }))
}

describe('operating it, in a real browser', { skip: missing }, () => {
  test('the dashboard shows the right counts for sent, retrying and dead mail; retry-all delivers the dead; others get 403', async () => {
    let bouncing = true
    const { h, baseUrl } = await served({
      env: { RAGTIME_ADMIN: boss.email, RAGTIME_MAIL_RETRY_FIRST: '1h', RAGTIME_MAIL_RETRY_MAX: '1h' },
      sink: {
        verdict: (_n, raw) => {
          if (/^To: later@/m.test(raw)) return { code: 451, message: '4.2.0 mailbox busy, try later' }
          if (/^To: bounce\d@/m.test(raw) && bouncing) return { code: 554, message: '5.6.0 message refused' }
          return 'accept'
        },
      },
    })
    await confirmedUser(h, h.client(), boss)
    await confirmedUser(h, h.client(), ann)
    const dead = [await enqueue(h, 'bounce1@example.test'), await enqueue(h, 'bounce2@example.test')]
    const retrying = await enqueue(h, 'later@example.test')
    for (const id of dead) await h.deps.outbox.waitFor(id, 'dead')
    await h.deps.outbox.waitFor(retrying, 'retrying')
    const counts = (await h.deps.outbox.status()).counts
    assert.deepEqual([counts.dead, counts.retrying], [2, 1])

    const browser = await launchBrowser()
    const other = await browser.newPage()
    await logInInBrowser(other, baseUrl, ann)
    const refused = await other.goto(`${baseUrl}/admin/mail`)
    assert.equal(refused?.status(), 403)
    assert.match((await other.textContent('main')) ?? '', /Only the administrator/)

    const page = await browser.newPage()
    await logInInBrowser(page, baseUrl, boss)
    await page.click('a:has-text("Outbox")')
    await page.waitForURL(`${baseUrl}/admin/mail`)
    for (const state of ['sent', 'retrying', 'dead', 'queued'] as const) {
      assert.equal(await page.textContent(`td[data-state="${state}"]`), String(counts[state]), state)
    }
    assert.equal(await page.textContent('[data-vital="queue-depth"]'), '1')
    assert.equal(await page.textContent('[data-vital="sent-hour"]'), String(counts.sent))
    const failing = (await page.textContent('table.failing')) ?? ''
    assert.match(failing, /5\.6\.0 message refused/)
    assert.match(failing, /4\.2\.0 mailbox busy/)
    assert.ok(await page.isVisible('svg.chart rect.sent'), 'the chart has bars')

    // Without its token, the same action is refused.
    const forged = await page.evaluate(async () => {
      const response = await fetch('/admin/mail/retry-dead', { method: 'POST', body: new URLSearchParams({ confirm: 'yes' }) })
      return response.status
    })
    assert.equal(forged, 403)
    assert.equal((await h.deps.outbox.status()).counts.dead, 2)

    bouncing = false
    await page.click('button:has-text("Retry all 2 dead")')
    assert.match((await page.textContent('main')) ?? '', /Send every dead message again now\?/)
    await page.click('button:has-text("Yes, do it")')
    await page.waitForURL(`${baseUrl}/admin/mail?done=retry-dead&n=2`)
    assert.match((await page.textContent('[role=status]')) ?? '', /2 items queued again\./)
    for (const id of dead) await h.deps.outbox.waitFor(id, 'sent')
    for (const to of ['bounce1@example.test', 'bounce2@example.test']) assert.equal((await h.allMailTo(to)).length, 1, to)
    await page.reload()
    assert.equal(await page.textContent('td[data-state="dead"]'), '0')
    assert.match((await page.textContent('table.audit')) ?? '', /boss@example\.test\s*retry-dead\s*all\s*2/)
  })

  test('the unconfirmed page turns from "on its way" to a bounce in plain words, without a reload, and offers a correction', async () => {
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const { h, baseUrl } = await served({
      sink: {
        verdict: async (_n, raw) => {
          if (!/^To: ann@exampel\.test/m.test(raw)) return 'accept'
          await held
          return { code: 550, message: '5.1.1 <ann@exampel.test>: Recipient address rejected: User unknown' }
        },
      },
    })
    const browser = await launchBrowser()
    const page = await browser.newPage()
    await signUpInBrowser(page, baseUrl, { email: 'ann@exampel.test', username: 'ann', password: ann.password })
    await logInInBrowser(page, baseUrl, { email: 'ann@exampel.test', password: ann.password })
    await page.waitForURL(`${baseUrl}/auth/unconfirmed`)
    assert.match((await page.textContent('#delivery-headline')) ?? '', /on its way/)
    assert.equal(await page.isVisible('#correct-address'), false)
    await page.evaluate(() => Object.assign(globalThis, { stillHere: true }))

    release()
    await page.waitForSelector('#delivery[data-state="failed"]', { timeout: 15_000 })
    assert.equal(await page.evaluate(() => (globalThis as { stillHere?: boolean }).stillHere), true, 'no reload')
    assert.match((await page.textContent('#delivery-headline')) ?? '', /could not be delivered: no such mailbox/)
    assert.match((await page.textContent('#delivery-advice')) ?? '', /no mailbox with this address\. Check it for a typo/)
    assert.ok(await page.isVisible('#correct-address'))

    await page.fill('#correct-address #email', 'ann@example.test')
    await page.fill('#correct-address #password', ann.password)
    await page.click('#correct-address button[type=submit]')
    await page.waitForURL(`${baseUrl}/auth/unconfirmed?corrected=1`)
    await h.mailTo('ann@example.test', { subject: /Confirm your account/ })
    await page.waitForSelector('#delivery[data-state="sent"]', { timeout: 15_000 })
  })
})
