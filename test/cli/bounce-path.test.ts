import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { dkimVerify } from 'mailauth/lib/dkim/verify.js'
import nodemailer from 'nodemailer'
import { SMTPServer } from 'smtp-server'
import { loadConfig } from '../../src/config/index.ts'
import { openDatabase } from '../../src/db/index.ts'
import { spawnRagtime } from '../helpers/cli.ts'
import { testEnv } from '../helpers/env.ts'
import { freePort, until } from '../helpers/wait.ts'

/**
 * A relay as real ones behave: it accepts every message (250), and a moment later the
 * recipient's server refuses it, so it mails a DSN to the message's envelope sender (its VERP
 * address) at the bounce domain's MX: here, `ragtime serve`'s bounce receiver.
 */
async function acceptThenBounceRelay(bouncePort: number) {
  const received: { raw: string; from: string }[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
        const to = session.envelope.rcptTo[0]?.address ?? ''
        received.push({ raw, from })
        callback(null, 'queued as 1A2B3C')
        const messageId = /^Message-ID: (<[^>]+>)/im.exec(raw)?.[1] ?? ''
        setTimeout(() => void sendDsn(bouncePort, from, to, messageId), 200)
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.server.address()
  return { port: typeof address === 'object' && address ? address.port : 0, received }
}

async function sendDsn(port: number, to: string, failed: string, messageId: string) {
  const raw = [
    'From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>',
    `To: ${to}`,
    'Subject: Delivery Status Notification (Failure)',
    'Message-ID: <dsn-e2e@relay.example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
    '',
    '--r',
    'Content-Type: text/plain',
    '',
    `Your message to ${failed} could not be delivered.`,
    '--r',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; relay.example.net',
    '',
    `Final-Recipient: rfc822; ${failed}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.`,
    '',
    '--r',
    'Content-Type: text/rfc822-headers',
    '',
    `Message-ID: ${messageId}`,
    '',
    '--r--',
    '',
  ].join('\r\n')
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true })
  await client.sendMail({ envelope: { from: '', to: [to] }, raw }).finally(() => client.close())
}

describe('the whole mail path in production: DKIM, VERP, a relay that bounces later by DSN', () => {
  test('sign-up → signed mail accepted by the relay → DSN to the bounce receiver → "could not be delivered: no such mailbox", address suppressed', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const bouncePort = await freePort()
    const relay = await acceptThenBounceRelay(bouncePort)
    const webPort = await freePort()
    const baseUrl = `http://127.0.0.1:${webPort}`
    const env = testEnv({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(webPort),
      BASE_URL: baseUrl,
      SECRET_KEY: 'production-bounce-path-secret-key-0123456789',
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(relay.port),
      RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
      RAGTIME_DKIM_SELECTOR: 'rt1',
      RAGTIME_DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      RAGTIME_BOUNCE_ADDRESS: 'bounces@ragtime.test',
      RAGTIME_BOUNCE_SMTP_PORT: String(bouncePort),
      RAGTIME_PASSWORD_COST: '10',
      RAGTIME_LOG_LEVEL: 'info',
    })
    const serve = spawnRagtime(['serve'], env)
    await until(() => /Ragtime is running/.test(serve.stderr()), 'serve to start', 30_000)
    assert.match(serve.stderr(), new RegExp(`bounces: +SMTP on 127\\.0\\.0\\.1:${bouncePort} for bounces@ragtime\\.test`))

    const json = { 'content-type': 'application/json', accept: 'application/json' }
    const user = { email: 'nobody@gmail.test', username: 'nobody', password: 'correct horse battery 9' }
    assert.equal((await fetch(`${baseUrl}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify(user) })).status, 202)
    const login = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify(user) })
    assert.equal(login.status, 200)
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')

    let delivery: { state: string; headline: string } | undefined
    await until(async () => {
      const page = await fetch(`${baseUrl}/auth/unconfirmed`, { headers: { accept: 'application/json', cookie } })
      delivery = ((await page.json()) as { delivery: typeof delivery }).delivery
      return delivery?.state === 'failed'
    }, 'the bounce to reach the unconfirmed page', 20_000)
    assert.equal(delivery?.headline, 'Your confirmation email could not be delivered: no such mailbox.')
    const html = await (await fetch(`${baseUrl}/auth/unconfirmed`, { headers: { cookie } })).text()
    assert.match(html, /could not be delivered: no such mailbox/)
    assert.doesNotMatch(html, /550|does not exist/, 'the remote server’s words stay with the admin')

    // What the relay got: signed, with the VERP envelope sender.
    const [sent] = relay.received
    assert.ok(sent)
    assert.match(sent.from, /^bounces\+\d+-[0-9a-f]{12}@ragtime\.test$/)
    const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`
    const { results } = await dkimVerify(Buffer.from(sent.raw), {
      resolver: async (name: string) => {
        if (name === 'rt1._domainkey.ragtime.test') return [[record]]
        throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })
      },
    })
    assert.equal(results[0]?.status.result, 'pass')

    const db = openDatabase(loadConfig(env).database, { poolSize: 1 })
    try {
      const suppressed = await db.kysely.selectFrom('mail_suppression').selectAll().execute()
      assert.deepEqual(
        suppressed.map((s) => [s.address, s.source]),
        [['nobody@gmail.test', 'dsn']],
      )
      const message = await db.kysely.selectFrom('mail_outbox').select(['state', 'template']).where('template', '=', 'auth/confirm').executeTakeFirstOrThrow()
      assert.equal(message.state, 'bounced')
    } finally {
      await db.close()
    }
    serve.child.kill('SIGTERM')
    assert.equal((await serve.exited).code, 0)
  })
})
