// npm run screenshot: makes docs/images/dev-inbox.png (the README's picture of the dev inbox), or
// the PNG named as the argument. It starts `ragtime serve` as `npm start` does, with nothing
// configured, in a fresh folder and on free ports (a running `npm start` is left alone), signs
// up in Chromium, and photographs the inbox once the confirmation email has arrived in it.
// Run on purpose, when the inbox's look changed: the test suite writes no tracked file.
// Through tsx (see package.json), for the browser helper the tests use.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath, URL } from 'node:url'
import { browserMissing, freePort, launchChromium, signUpInBrowser } from '../test/helpers/browser.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = path.resolve(process.argv[2] ?? path.join(root, 'docs/images/dev-inbox.png'))

/** `ragtime serve` in `cwd`; resolves once its banner says it is running. */
async function serve(cwd, env) {
  const child = spawn(process.execPath, [path.join(root, 'bin/ragtime.js'), 'serve'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  child.stderr.on('data', (chunk) => (log += chunk))
  const deadline = Date.now() + 30_000
  while (!/Ragtime is running/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`ragtime serve did not start:\n${log}`)
    }
    await delay(50)
  }
  return child
}

const missing = browserMissing()
if (missing) {
  console.error(`npm run screenshot: ${missing}`)
  process.exit(1)
}
const dir = mkdtempSync(path.join(tmpdir(), 'ragtime-screenshot-'))
const port = await freePort()
let server
let browser
try {
  server = await serve(dir, { PORT: String(port), RAGTIME_DEV_SMTP_PORT: String(await freePort()) })
  const base = `http://localhost:${port}`
  browser = await launchChromium()
  const inbox = await browser.newPage({ viewport: { width: 1000, height: 640 } })
  await inbox.goto(`${base}/dev/mail`)
  await signUpInBrowser(await browser.newPage(), base, { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' })
  // The open inbox shows it by itself (server-sent events).
  await inbox.waitForSelector('text=Ragtime — Confirm your account', { timeout: 10_000 })
  await inbox.screenshot({ path: out })
  console.log(`wrote ${path.relative(process.cwd(), out) || out}`)
} finally {
  await browser?.close()
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((resolve) => server.once('exit', resolve))
  }
  rmSync(dir, { recursive: true, force: true })
}
