import { existsSync } from 'node:fs'
import { after } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Why browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  const why = `no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`
  // CI must run them: there, a missing browser is a failure, not a skip.
  if (process.env.RAGTIME_REQUIRE_BROWSER === '1') throw new Error(why)
  return why
}

/** Headless Chromium with the flags this closed network needs (scripts/screenshot.mjs uses it too). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** {@link launchChromium}, closed after the test. */
export async function launchBrowser(): Promise<Browser> {
  const browser = await launchChromium()
  after(() => browser.close())
  return browser
}


export { freePort } from './wait.ts'

/** Signs `user` up through the form at `baseUrl`; resolves on the "Check your email" page. */
export async function signUpInBrowser(page: Page, baseUrl: string, user: { email: string; username: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/auth/register`)
  await page.fill('#email', user.email)
  await page.fill('#username', user.username)
  await page.fill('#password', user.password)
  await page.click('main button[type=submit]')
  await page.waitForURL(`${baseUrl}/auth/check-email`)
}

/** Logs `user` in through the form at `baseUrl`; resolves once the next page has loaded. */
export async function logInInBrowser(page: Page, baseUrl: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/auth/login`)
  await page.fill('#email', user.email)
  await page.fill('#password', user.password)
  await page.click('main button[type=submit]')
  await page.waitForLoadState()
}
