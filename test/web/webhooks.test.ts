import { sql } from 'kysely'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHmac, createSign, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { webhookProviders } from '../../src/mail/webhooks/index.ts'
import { tempDir } from '../helpers/env.ts'
import { type WebHarness, webHarness } from '../helpers/web.ts'

/*
 * Every test sends a real message through the real worker to the SMTP sink (so it is `sent`),
 * then posts the provider's event, built and signed as the provider documents it, over HTTP
 * (inject) to the app, and reads the database.
 */

const MAILGUN_KEY = 'mailgun-http-webhook-signing-key-0123456789'
const RESEND_SECRET = `whsec_${randomBytes(24).toString('base64')}`
const POSTMARK_SECRET = 'ragtime-hooks:7cf1b0d6e2a94c0c9b1d'
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ragtime-ses-feedback'
const MINUTE = 60_000

interface Sent {
  readonly outboxId: number
  readonly messageId: string
  readonly subject: string
  readonly email: string
  readonly password: string
}

let users = 0

/** Signs someone up (the app enqueues their confirmation) and waits until the sink accepted it. */
async function sentConfirmation(h: WebHarness, email = `user${++users}@example.test`): Promise<Sent> {
  const password = 'correct horse battery staple'
  const answer = await h.client().json('POST', '/auth/register', { email, username: `user${users}_${randomBytes(3).toString('hex')}`, password })
  assert.equal(answer.statusCode, 202)
  const mail = await h.mailTo(email, { subject: /Confirm your account/ })
  const row = await h.db.kysely.selectFrom('mail_outbox').select(['id', 'message_id']).where('message_id', '=', mail.messageId!).executeTakeFirstOrThrow()
  await h.deps.outbox.waitFor(Number(row.id), 'sent')
  return { outboxId: Number(row.id), messageId: mail.messageId!, subject: mail.subject!, email, password }
}

async function stateOf(h: WebHarness, outboxId: number) {
  return (await h.db.kysely.selectFrom('mail_outbox').select(['state', 'last_error']).where('id', '=', outboxId).executeTakeFirstOrThrow())
}

async function suppressionOf(h: WebHarness, address: string) {
  return h.db.kysely.selectFrom('mail_suppression').select(['address', 'source', 'reason', 'outbox_id']).where('address', '=', address.toLowerCase()).executeTakeFirst()
}

async function feedback(h: WebHarness) {
  return h.db.kysely.selectFrom('mail_feedback').select(['kind', 'source', 'status', 'outbox_id', 'event_key']).orderBy('id').execute()
}

/** Nothing a refused request may change: the message, the suppression list, the feedback. */
async function snapshot(h: WebHarness, sent: Sent) {
  return { message: await stateOf(h, sent.outboxId), suppressed: await suppressionOf(h, sent.email), feedback: await feedback(h) }
}

function post(h: WebHarness, provider: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return h.app.inject({ method: 'POST', url: `/webhooks/mail/${provider}`, payload: body, headers: { 'content-type': 'application/json', ...headers } })
}

function assertProblem(response: LightMyRequestResponse, status: number, code?: string) {
  assert.equal(response.statusCode, status, response.body)
  const body = response.json()
  assert.equal(typeof body.error?.code, 'string')
  assert.equal(typeof body.error?.message, 'string')
  if (code) assert.equal(body.error.code, code)
  assert.doesNotMatch(response.body, /at .*\.ts:\d+|stack/i, 'no stack trace')
}

// ---------------------------------------------------------------------------------------------
// Mailgun: HMAC-SHA256(timestamp + token) with the HTTP webhook signing key, in the JSON body.

function mailgunBody(
  sent: Sent,
  event: Record<string, unknown>,
  { key = MAILGUN_KEY, timestamp = Math.floor(Date.now() / 1000), token = randomBytes(25).toString('hex') } = {},
): string {
  const signature = createHmac('sha256', key).update(`${timestamp}${token}`).digest('hex')
  return JSON.stringify({
    signature: { timestamp: String(timestamp), token, signature },
    'event-data': {
      id: randomBytes(11).toString('base64url'),
      timestamp: Date.now() / 1000,
      'log-level': 'error',
      recipient: sent.email,
      'recipient-domain': sent.email.split('@')[1],
      envelope: { transport: 'smtp', sender: 'noreply@ragtime.test', targets: sent.email },
      message: {
        headers: { to: sent.email, 'message-id': sent.messageId.replace(/^<|>$/g, ''), from: 'Ragtime <noreply@ragtime.test>', subject: sent.subject },
        attachments: [],
        size: 2048,
      },
      flags: { 'is-routed': false, 'is-authenticated': true, 'is-system-test': false, 'is-test-mode': false },
      ...event,
    },
  })
}

const MAILGUN_BOUNCE = {
  event: 'failed',
  severity: 'permanent',
  reason: 'bounce',
  'delivery-status': {
    'attempt-no': 1,
    code: 550,
    message: '5.1.1 The email account that you tried to reach does not exist.',
    description: '',
    'session-seconds': 0.4,
  },
}

describe('POST /webhooks/mail/mailgun', () => {
  test('a permanent failure bounces the message and suppresses the address; the same event again counts once; the user sees “no such mailbox”', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const sent = await sentConfirmation(h)
    const body = JSON.parse(mailgunBody(sent, MAILGUN_BOUNCE))

    const first = await post(h, 'mailgun', JSON.stringify(body))
    assert.equal(first.statusCode, 200, first.body)
    assert.deepEqual(first.json(), { outcome: 'recorded' })
    const message = await stateOf(h, sent.outboxId)
    assert.equal(message.state, 'bounced')
    assert.match(message.last_error ?? '', /bounced \(mailgun\) 5\.1\.1/)
    const suppressed = await suppressionOf(h, sent.email)
    assert.equal(suppressed?.source, 'mailgun')
    assert.equal(suppressed?.outbox_id, sent.outboxId)

    // Mailgun delivers the event again (a retry): a new token and signature, the same event id.
    const token = randomBytes(25).toString('hex')
    const timestamp = Math.floor(Date.now() / 1000)
    const again = { ...body, signature: { timestamp: String(timestamp), token, signature: createHmac('sha256', MAILGUN_KEY).update(`${timestamp}${token}`).digest('hex') } }
    const second = await post(h, 'mailgun', JSON.stringify(again))
    assert.equal(second.statusCode, 200)
    assert.deepEqual(second.json(), { outcome: 'duplicate' })
    const rows = await feedback(h)
    assert.equal(rows.length, 1)
    assert.equal(rows[0]?.kind, 'bounce')
    assert.equal(rows[0]?.status, '5.1.1')

    // The person waiting for the link is told, in words, when they log in.
    const browser = h.client()
    await browser.get('/auth/login')
    const login = await browser.form('/auth/login', { email: sent.email, password: sent.password })
    assert.equal(login.headers.location, '/auth/unconfirmed')
    const page = await browser.get('/auth/unconfirmed')
    assert.match(page.body, /could not be delivered: no such mailbox/)
    assert.doesNotMatch(page.body, /tried to reach does not exist/, 'the provider’s words stay with the admin')
  })

  test('a complaint suppresses the address; a temporary failure is only noted', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const delayed = await sentConfirmation(h)
    const delay = await post(h, 'mailgun', mailgunBody(delayed, { ...MAILGUN_BOUNCE, severity: 'temporary', reason: 'generic', 'delivery-status': { code: 452, message: '4.2.2 The email account that you tried to reach is over quota.' } }))
    assert.deepEqual(delay.json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, delayed.outboxId)).state, 'sent')
    assert.equal(await suppressionOf(h, delayed.email), undefined)
    assert.deepEqual((await feedback(h)).map((f) => [f.kind, f.status]), [['delay', '4.2.2']])

    const complained = await sentConfirmation(h)
    const complaint = await post(h, 'mailgun', mailgunBody(complained, { event: 'complained' }))
    assert.deepEqual(complaint.json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, complained.outboxId)).state, 'sent')
    assert.equal((await suppressionOf(h, complained.email))?.source, 'mailgun')
    assert.deepEqual((await feedback(h)).map((f) => f.kind), ['delay', 'complaint'])
  })

  test('a bad signature, a stale timestamp and a replayed token are 401 and change nothing', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const sent = await sentConfirmation(h)
    const before = await snapshot(h, sent)
    assertProblem(await post(h, 'mailgun', mailgunBody(sent, MAILGUN_BOUNCE, { key: 'some-other-key' })), 401, 'bad_signature')
    const stale = mailgunBody(sent, MAILGUN_BOUNCE, { timestamp: Math.floor((Date.now() - 6 * MINUTE) / 1000) })
    assertProblem(await post(h, 'mailgun', stale), 401, 'stale_webhook')
    const early = mailgunBody(sent, MAILGUN_BOUNCE, { timestamp: Math.floor((Date.now() + 6 * MINUTE) / 1000) })
    assertProblem(await post(h, 'mailgun', early), 401, 'stale_webhook')
    assert.deepEqual(await snapshot(h, sent), before)

    // The signature covers only timestamp + token, not event-data: a token is good once, so a
    // captured request cannot carry other event-data, not even after an event that is ignored.
    const delivered = JSON.parse(mailgunBody(sent, { event: 'delivered', 'delivery-status': { code: 250, message: 'OK' } }))
    assert.deepEqual((await post(h, 'mailgun', JSON.stringify(delivered))).json(), { outcome: 'ignored' })
    const forged = { ...JSON.parse(mailgunBody(sent, MAILGUN_BOUNCE)), signature: delivered.signature }
    assertProblem(await post(h, 'mailgun', JSON.stringify(forged)), 401, 'replayed_webhook')
    assert.deepEqual(await snapshot(h, sent), before)

    const bounce = mailgunBody(sent, MAILGUN_BOUNCE)
    assert.deepEqual((await post(h, 'mailgun', bounce)).json(), { outcome: 'recorded' })
    const after = await snapshot(h, sent)
    assertProblem(await post(h, 'mailgun', bounce), 401, 'replayed_webhook')
    const complaint = { ...JSON.parse(mailgunBody(sent, { event: 'complained' })), signature: JSON.parse(bounce).signature }
    assertProblem(await post(h, 'mailgun', JSON.stringify(complaint)), 401, 'replayed_webhook')
    assert.deepEqual(await snapshot(h, sent), after)
  })

  test('an event that could not be recorded (the database failing) is taken when the provider retries the same request', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const sent = await sentConfirmation(h)
    const bounce = mailgunBody(sent, MAILGUN_BOUNCE)
    // A real failure of the real database: the table the pipeline writes to is briefly gone.
    await sql`alter table mail_feedback rename to mail_feedback_away`.execute(h.db.kysely)
    const failed = await post(h, 'mailgun', bounce)
    await sql`alter table mail_feedback_away rename to mail_feedback`.execute(h.db.kysely)
    assert.equal(failed.statusCode, 500)
    assert.equal((await stateOf(h, sent.outboxId)).state, 'sent')
    const retried = await post(h, 'mailgun', bounce)
    assert.equal(retried.statusCode, 200, retried.body)
    assert.deepEqual(retried.json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'bounced')
  })
})

// ---------------------------------------------------------------------------------------------
// Resend (Svix): HMAC-SHA256 over `${svix-id}.${svix-timestamp}.${body}`, key = base64 after whsec_.

function svixHeaders(body: string, { id = `msg_${randomBytes(12).toString('hex')}`, timestamp = Math.floor(Date.now() / 1000), secret = RESEND_SECRET } = {}) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
  // While a secret rotates, Svix sends several signatures; the first here is by another key.
  return { 'svix-id': id, 'svix-timestamp': String(timestamp), 'svix-signature': `v1,${randomBytes(32).toString('base64')} v1,${signature}` }
}

function resendBody(sent: Sent, type: string, extra: Record<string, unknown> = {}): string {
  const now = new Date().toISOString()
  return JSON.stringify({
    type,
    created_at: now,
    data: {
      broadcast_id: null,
      created_at: now,
      email_id: randomUUID(),
      from: 'Ragtime <noreply@ragtime.test>',
      to: [sent.email],
      subject: sent.subject,
      tags: [],
      ...extra,
    },
  })
}

const RESEND_BOUNCE = {
  bounce: {
    message: "The recipient's email address does not exist: 550 5.1.1 user unknown",
    subType: 'General',
    type: 'Permanent',
  },
}

describe('POST /webhooks/mail/resend', () => {
  test('email.bounced bounces the message (found by recipient and subject); a retry with the same svix-id counts once', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_RESEND_SECRET: RESEND_SECRET } })
    const older = await sentConfirmation(h)
    const sent = await sentConfirmation(h)
    const body = resendBody(sent, 'email.bounced', RESEND_BOUNCE)
    const id = `msg_${randomBytes(12).toString('hex')}`

    const first = await post(h, 'resend', body, svixHeaders(body, { id }))
    assert.equal(first.statusCode, 200, first.body)
    assert.deepEqual(first.json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'bounced')
    assert.equal((await stateOf(h, older.outboxId)).state, 'sent', 'only the message the event is about')
    assert.equal((await suppressionOf(h, sent.email))?.source, 'resend')
    assert.equal(await suppressionOf(h, older.email), undefined)

    // Svix retries: the same id, a new timestamp and signature.
    const retry = await post(h, 'resend', body, svixHeaders(body, { id, timestamp: Math.floor(Date.now() / 1000) + 1 }))
    assert.deepEqual(retry.json(), { outcome: 'duplicate' })
    assert.deepEqual((await feedback(h)).map((f) => [f.kind, f.status, f.outbox_id]), [['bounce', '5.1.1', sent.outboxId]])
  })

  test('a Message-ID in data.headers is used when Resend sends one', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_RESEND_SECRET: RESEND_SECRET } })
    const sent = await sentConfirmation(h)
    const body = resendBody(sent, 'email.bounced', { ...RESEND_BOUNCE, subject: 'a subject that does not match', headers: [{ name: 'Message-ID', value: sent.messageId }] })
    assert.deepEqual((await post(h, 'resend', body, svixHeaders(body))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'bounced')
  })

  test('email.complained suppresses; email.delivery_delayed is only noted; email.delivered is ignored', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_RESEND_SECRET: RESEND_SECRET } })
    const sent = await sentConfirmation(h)
    const delayed = resendBody(sent, 'email.delivery_delayed')
    assert.deepEqual((await post(h, 'resend', delayed, svixHeaders(delayed))).json(), { outcome: 'recorded' })
    assert.equal(await suppressionOf(h, sent.email), undefined)
    const delivered = resendBody(sent, 'email.delivered')
    assert.deepEqual((await post(h, 'resend', delivered, svixHeaders(delivered))).json(), { outcome: 'ignored' })
    const complained = resendBody(sent, 'email.complained')
    assert.deepEqual((await post(h, 'resend', complained, svixHeaders(complained))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'sent')
    assert.equal((await suppressionOf(h, sent.email))?.source, 'resend')
    assert.deepEqual((await feedback(h)).map((f) => f.kind), ['delay', 'complaint'])
  })

  test('a bad signature, a stale timestamp, a replayed attempt and a changed body are 401 and change nothing', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_RESEND_SECRET: RESEND_SECRET } })
    const sent = await sentConfirmation(h)
    const body = resendBody(sent, 'email.bounced', RESEND_BOUNCE)
    const before = await snapshot(h, sent)
    const otherSecret = `whsec_${randomBytes(24).toString('base64')}`
    assertProblem(await post(h, 'resend', body, svixHeaders(body, { secret: otherSecret })), 401, 'bad_signature')
    assertProblem(await post(h, 'resend', body, svixHeaders(body, { timestamp: Math.floor((Date.now() - 6 * MINUTE) / 1000) })), 401, 'stale_webhook')
    assertProblem(await post(h, 'resend', body), 401, 'bad_signature')
    const headers = svixHeaders(body)
    assertProblem(await post(h, 'resend', body.replace('Permanent', 'Transient'), headers), 401, 'bad_signature')
    assert.deepEqual(await snapshot(h, sent), before)

    assert.deepEqual((await post(h, 'resend', body, headers)).json(), { outcome: 'recorded' })
    const after = await snapshot(h, sent)
    assertProblem(await post(h, 'resend', body, headers), 401, 'replayed_webhook')
    assert.deepEqual(await snapshot(h, sent), after)
  })
})

// ---------------------------------------------------------------------------------------------
// Postmark: no signature; HTTP Basic credentials from the webhook URL.

const basic = (credentials: string) => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` })

function postmarkBody(sent: Sent, record: Record<string, unknown>): string {
  return JSON.stringify({
    RecordType: 'Bounce',
    MessageStream: 'outbound',
    ID: Math.floor(Math.random() * 1e9),
    Type: 'HardBounce',
    TypeCode: 1,
    Name: 'Hard bounce',
    Tag: '',
    MessageID: randomUUID(),
    Metadata: {},
    ServerID: 23,
    Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
    Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
    Email: sent.email,
    From: 'noreply@ragtime.test',
    BouncedAt: new Date().toISOString(),
    DumpAvailable: true,
    Inactive: true,
    CanActivate: true,
    Subject: sent.subject,
    ...record,
  })
}

describe('POST /webhooks/mail/postmark', () => {
  test('a HardBounce bounces the message; the same record again counts once; a SpamComplaint suppresses; a SoftBounce is noted', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_POSTMARK_SECRET: POSTMARK_SECRET } })
    const sent = await sentConfirmation(h)
    const body = postmarkBody(sent, {})
    assert.deepEqual((await post(h, 'postmark', body, basic(POSTMARK_SECRET))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'bounced')
    assert.equal((await suppressionOf(h, sent.email))?.source, 'postmark')
    // No signed timestamp: a replay and Postmark's own retry look alike, and count once.
    assert.deepEqual((await post(h, 'postmark', body, basic(POSTMARK_SECRET))).json(), { outcome: 'duplicate' })

    const soft = await sentConfirmation(h)
    const softBody = postmarkBody(soft, { Type: 'SoftBounce', TypeCode: 4096, Details: 'smtp;452 4.2.2 mailbox full', Inactive: false })
    assert.deepEqual((await post(h, 'postmark', softBody, basic(POSTMARK_SECRET))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, soft.outboxId)).state, 'sent')
    assert.equal(await suppressionOf(h, soft.email), undefined)

    const spam = await sentConfirmation(h)
    const spamBody = postmarkBody(spam, { RecordType: 'SpamComplaint', Type: 'SpamComplaint', TypeCode: 512, Details: 'Test spam complaint details' })
    assert.deepEqual((await post(h, 'postmark', spamBody, basic(POSTMARK_SECRET))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, spam.outboxId)).state, 'sent')
    assert.equal((await suppressionOf(h, spam.email))?.source, 'postmark')
    assert.deepEqual((await feedback(h)).map((f) => [f.kind, f.outbox_id]), [
      ['bounce', sent.outboxId],
      ['delay', soft.outboxId],
      ['complaint', spam.outboxId],
    ])
    const autoReply = postmarkBody(sent, { Type: 'AutoResponder', TypeCode: 64 })
    assert.deepEqual((await post(h, 'postmark', autoReply, basic(POSTMARK_SECRET))).json(), { outcome: 'ignored' })
  })

  test('wrong or missing credentials are 401 and change nothing; a bounce about mail that is not ours is 200 and ignored', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_POSTMARK_SECRET: POSTMARK_SECRET } })
    const sent = await sentConfirmation(h)
    const body = postmarkBody(sent, {})
    const before = await snapshot(h, sent)
    assertProblem(await post(h, 'postmark', body), 401, 'bad_signature')
    assertProblem(await post(h, 'postmark', body, basic('ragtime-hooks:wrong')), 401)
    assertProblem(await post(h, 'postmark', body, basic(`${POSTMARK_SECRET}x`)), 401)
    assertProblem(await post(h, 'postmark', body, { authorization: `Bearer ${POSTMARK_SECRET}` }), 401)
    assert.deepEqual(await snapshot(h, sent), before)

    const stranger = postmarkBody({ ...sent, email: 'someone.else@example.test' }, {})
    assert.deepEqual((await post(h, 'postmark', stranger, basic(POSTMARK_SECRET))).json(), { outcome: 'unknown' })
    const otherSubject = postmarkBody({ ...sent, subject: 'Your invoice' }, {})
    assert.deepEqual((await post(h, 'postmark', otherSubject, basic(POSTMARK_SECRET))).json(), { outcome: 'unknown' })
    assert.deepEqual(await snapshot(h, sent), before)
  })
})

// ---------------------------------------------------------------------------------------------
// Amazon SES through SNS: RSA signatures over the canonical string, by a certificate we trust.

interface Signer {
  readonly certificate: string
  readonly privateKey: string
}

/** An RSA key and a self-signed certificate, made by openssl (node:crypto cannot make X.509). */
function makeSigner(): Signer {
  const dir = tempDir()
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=sns.eu-west-1.amazonaws.com'], { stdio: 'ignore' })
  return { certificate: readFileSync(cert, 'utf8'), privateKey: readFileSync(key, 'utf8') }
}

const SIGNED = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
} as const

/** An SNS message as SNS posts it, signed as its documentation says. */
function snsMessage(
  signer: Signer,
  fields: Record<string, string>,
  { version = '2', topicArn = TOPIC_ARN, timestamp = new Date().toISOString() }: { version?: '1' | '2'; topicArn?: string; timestamp?: string } = {},
): string {
  const message: Record<string, string> = { Type: 'Notification', MessageId: randomUUID(), TopicArn: topicArn, Timestamp: timestamp, ...fields }
  const type = message.Type as keyof typeof SIGNED
  const canonical = SIGNED[type].filter((f) => message[f] !== undefined).map((f) => `${f}\n${message[f]}\n`).join('')
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256').update(canonical).sign(signer.privateKey, 'base64')
  return JSON.stringify({
    ...message,
    SignatureVersion: version,
    Signature: signature,
    SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    UnsubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC_ARN}:${randomUUID()}`,
  })
}

function sesEvent(sent: Sent, event: Record<string, unknown>): string {
  const sesId = `0102018c${randomBytes(12).toString('hex')}-000000`
  return JSON.stringify({
    ...event,
    mail: {
      timestamp: new Date(Date.now() - 2000).toISOString(),
      source: 'noreply@ragtime.test',
      sourceArn: 'arn:aws:ses:eu-west-1:123456789012:identity/ragtime.test',
      sendingAccountId: '123456789012',
      messageId: sesId,
      destination: [sent.email],
      headersTruncated: false,
      headers: [
        { name: 'From', value: 'Ragtime <noreply@ragtime.test>' },
        { name: 'To', value: sent.email },
        { name: 'Subject', value: sent.subject },
        { name: 'Message-ID', value: sent.messageId },
      ],
      commonHeaders: { from: ['Ragtime <noreply@ragtime.test>'], to: [sent.email], messageId: sesId, subject: sent.subject },
    },
  })
}

const sesBounce = (sent: Sent, bounceType = 'Permanent', status = '5.1.1') => ({
  notificationType: 'Bounce',
  bounce: {
    bounceType,
    bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
    bouncedRecipients: [{ emailAddress: sent.email, action: 'failed', status, diagnosticCode: `smtp; 550 ${status} <${sent.email}>: Recipient address rejected: User unknown` }],
    timestamp: new Date().toISOString(),
    feedbackId: `0102018c${randomBytes(12).toString('hex')}-000000`,
    remoteMtaIp: '192.0.2.25',
    reportingMTA: 'dsn; a8-30.smtp-out.amazonses.com',
  },
})

describe('POST /webhooks/mail/ses', () => {
  test('a Permanent bounce (SignatureVersion 2) bounces the message; SNS’s retry of the same message counts once; SignatureVersion 1 verifies too', async () => {
    const signer = makeSigner()
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_SES_SECRET: `${signer.certificate}\n${TOPIC_ARN}\n` } })
    const sent = await sentConfirmation(h)
    // SNS posts text/plain unless the subscription's delivery policy says otherwise.
    const body = snsMessage(signer, { Message: sesEvent(sent, sesBounce(sent)) })
    const first = await post(h, 'ses', body, { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' })
    assert.equal(first.statusCode, 200, first.body)
    assert.deepEqual(first.json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'bounced')
    assert.equal((await suppressionOf(h, sent.email))?.source, 'ses')
    assert.deepEqual((await post(h, 'ses', body, { 'content-type': 'text/plain; charset=UTF-8' })).json(), { outcome: 'duplicate' })
    assert.deepEqual((await feedback(h)).map((f) => [f.kind, f.status, f.source]), [['bounce', '5.1.1', 'ses']])

    const complained = await sentConfirmation(h)
    const complaint = { notificationType: 'Complaint', complaint: { complainedRecipients: [{ emailAddress: complained.email }], timestamp: new Date().toISOString(), feedbackId: 'x', complaintFeedbackType: 'abuse', userAgent: 'Yahoo!-Mail-Feedback/2.0' } }
    const v1 = snsMessage(signer, { Message: sesEvent(complained, complaint), Subject: 'Amazon SES Email Event Notification' }, { version: '1' })
    assert.deepEqual((await post(h, 'ses', v1)).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, complained.outboxId)).state, 'sent')
    assert.equal((await suppressionOf(h, complained.email))?.source, 'ses')
  })

  test('a Transient bounce and a DeliveryDelay are only noted; a subscription confirmation is logged, not fetched', async () => {
    const signer = makeSigner()
    // The secret may be the path of a file holding the certificate (and the topic).
    const file = path.join(tempDir(), 'sns.pem')
    writeFileSync(file, `${TOPIC_ARN}\n${signer.certificate}`)
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_SES_SECRET: file } })
    const sent = await sentConfirmation(h)
    const transient = snsMessage(signer, { Message: sesEvent(sent, sesBounce(sent, 'Transient', '4.2.2')) })
    assert.deepEqual((await post(h, 'ses', transient)).json(), { outcome: 'recorded' })
    const delay = {
      eventType: 'DeliveryDelay',
      deliveryDelay: { delayType: 'MailboxFull', delayedRecipients: [{ emailAddress: sent.email, status: '4.2.2', diagnosticCode: 'smtp; 452 4.2.2 Mailbox full' }], expirationTime: new Date(Date.now() + 86_400_000).toISOString(), timestamp: new Date().toISOString() },
    }
    assert.deepEqual((await post(h, 'ses', snsMessage(signer, { Message: sesEvent(sent, delay) }))).json(), { outcome: 'recorded' })
    assert.equal((await stateOf(h, sent.outboxId)).state, 'sent')
    assert.equal(await suppressionOf(h, sent.email), undefined)
    assert.deepEqual((await feedback(h)).map((f) => f.kind), ['delay', 'delay'])

    const subscribe = snsMessage(signer, {
      Type: 'SubscriptionConfirmation',
      Token: randomBytes(64).toString('hex'),
      Message: `You have chosen to subscribe to the topic ${TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      SubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC_ARN}&Token=abc`,
    })
    assert.deepEqual((await post(h, 'ses', subscribe)).json(), { outcome: 'subscription_pending' })
    const test = snsMessage(signer, { Message: 'Successfully validated SNS topic for Amazon SES event publishing.' })
    assert.deepEqual((await post(h, 'ses', test)).json(), { outcome: 'ignored' })
  })

  test('another certificate, another topic, a changed field or a stale message is 401 and changes nothing', async () => {
    const signer = makeSigner()
    const stranger = makeSigner()
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_SES_SECRET: `${TOPIC_ARN}\n${signer.certificate}` } })
    const sent = await sentConfirmation(h)
    const event = sesEvent(sent, sesBounce(sent))
    const before = await snapshot(h, sent)
    assertProblem(await post(h, 'ses', snsMessage(stranger, { Message: event })), 401, 'bad_signature')
    // Signed by AWS's certificate for someone else's topic: refused once topics are pinned.
    assertProblem(await post(h, 'ses', snsMessage(signer, { Message: event }, { topicArn: 'arn:aws:sns:eu-west-1:999999999999:attacker' })), 401)
    const tampered = JSON.parse(snsMessage(signer, { Message: sesEvent(sent, sesBounce(sent, 'Transient', '4.2.2')) }))
    tampered.Message = event
    assertProblem(await post(h, 'ses', JSON.stringify(tampered)), 401, 'bad_signature')
    const old = snsMessage(signer, { Message: event }, { timestamp: new Date(Date.now() - 70 * MINUTE).toISOString() })
    assertProblem(await post(h, 'ses', old), 401, 'stale_webhook')
    const unsigned = JSON.parse(snsMessage(signer, { Message: event }))
    delete unsigned.Signature
    assertProblem(await post(h, 'ses', JSON.stringify(unsigned)), 401)
    assert.deepEqual(await snapshot(h, sent), before)
  })
})

// ---------------------------------------------------------------------------------------------

describe('webhooks and the rest of the app', () => {
  test('a provider without its secret is 404 as if the route did not exist, whatever the body', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const sent = await sentConfirmation(h)
    const before = await snapshot(h, sent)
    for (const provider of ['postmark', 'resend', 'ses']) {
      assertProblem(await post(h, provider, '{}'), 404, 'not_found')
      assertProblem(await post(h, provider, 'x', { 'content-type': 'text/plain' }), 404, 'not_found')
    }
    assertProblem(await post(h, 'sendgrid', '{}'), 404, 'not_found')
    assertProblem(await post(h, 'ses', postmarkBody(sent, {}), basic(POSTMARK_SECRET)), 404, 'not_found')
    assert.deepEqual(await snapshot(h, sent), before)
    const missing = await h.app.inject({ method: 'POST', url: '/webhooks/mail/nothing-here', payload: '{}', headers: { 'content-type': 'application/json' } })
    assert.equal(missing.statusCode, 404)
  })

  test('malformed, empty or oversized bodies are a 400 or 413 in the JSON error shape, never a crash', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY, RAGTIME_WEBHOOK_RESEND_SECRET: RESEND_SECRET } })
    assertProblem(await post(h, 'mailgun', '{"signature": '), 400, 'bad_payload')
    assertProblem(await post(h, 'mailgun', '[1, 2]'), 400, 'bad_payload')
    assertProblem(await post(h, 'mailgun', Buffer.from([0xff, 0xfe, 0x00, 0x7b])), 400)
    assertProblem(await h.app.inject({ method: 'POST', url: '/webhooks/mail/mailgun' }), 400)
    // Signed, but not what Resend sends.
    const odd = '{"type": 42}'
    assertProblem(await post(h, 'resend', odd, svixHeaders(odd)), 400, 'bad_payload')
    const signed = JSON.parse(mailgunBody({ outboxId: 0, messageId: '<x@y>', subject: 's', email: 'a@example.test', password: '' }, MAILGUN_BOUNCE))
    delete signed['event-data'].id
    assertProblem(await post(h, 'mailgun', JSON.stringify(signed)), 400, 'bad_payload')
    const huge = JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 1) })
    assertProblem(await post(h, 'mailgun', huge), 413)
  })

  test('a report about mail that is not ours is 200, so the provider stops retrying', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const stranger: Sent = { outboxId: 0, messageId: `<${randomUUID()}@elsewhere.test>`, subject: 'Hello', email: 'x@example.test', password: '' }
    const answer = await post(h, 'mailgun', mailgunBody(stranger, MAILGUN_BOUNCE))
    assert.equal(answer.statusCode, 200)
    assert.deepEqual(answer.json(), { outcome: 'unknown' })
    assert.deepEqual(await feedback(h), [])
  })

  test('the exemption is the webhooks’ alone: a form without its CSRF token and a cross-site JSON post are still refused', async () => {
    const h = await webHarness({ env: { RAGTIME_WEBHOOK_MAILGUN_SECRET: MAILGUN_KEY } })
    const form = await h.client().form('/auth/login', { email: 'a@example.test', password: 'whatever password' }, { csrf: false })
    assert.equal(form.statusCode, 403)
    const crossSite = await h.client().json('POST', '/auth/login', { email: 'a@example.test', password: 'x' }, { origin: 'https://evil.test' })
    assert.equal(crossSite.statusCode, 403)
    const text = await h.app.inject({ method: 'POST', url: '/auth/login', payload: 'email=a', headers: { 'content-type': 'text/plain' } })
    assert.equal(text.statusCode, 415, 'only the webhooks take text/plain')
    // A webhook from another site's page is just an unsigned request.
    const hook = await post(h, 'mailgun', '{}', { origin: 'https://evil.test', cookie: 'ragtime_session=abc' })
    assert.equal(hook.statusCode, 401)
  })

  test('a secret that cannot be right stops start-up with its variable named', () => {
    const none = { postmark: undefined, resend: undefined, mailgun: undefined, ses: undefined }
    assert.throws(() => webhookProviders({ ...none, postmark: 'only-a-password' }), /RAGTIME_WEBHOOK_POSTMARK_SECRET must be user:password/)
    assert.throws(() => webhookProviders({ ...none, resend: 'whsec_' }), /RAGTIME_WEBHOOK_RESEND_SECRET/)
    assert.throws(() => webhookProviders({ ...none, ses: '/no/such/file.pem' }), /RAGTIME_WEBHOOK_SES_SECRET: no PEM in it, and it is not a readable file/)
    assert.throws(() => webhookProviders({ ...none, ses: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----' }), /RAGTIME_WEBHOOK_SES_SECRET: a certificate does not parse/)
    const signer = makeSigner()
    assert.throws(() => webhookProviders({ ...none, ses: signer.certificate }), /must also list the SNS topic ARN/)
    assert.equal(webhookProviders({ ...none, ses: `${signer.certificate}\n${TOPIC_ARN}` }).get('ses')?.warning, undefined)
    assert.deepEqual([...webhookProviders({ ...none, mailgun: MAILGUN_KEY }).keys()], ['mailgun'])
  })
})
