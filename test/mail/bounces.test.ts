import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import nodemailer from 'nodemailer'
import { loadConfig } from '../../src/config/index.ts'
import { readReport, startBounceReceiver, systemClock, verpFromConfig } from '../../src/mail/index.ts'
import { silentLogger } from '../helpers/env.ts'
import { harness } from '../helpers/outbox.ts'
import { until } from '../helpers/wait.ts'

const BOUNCES = 'bounces@ragtime.test'

/** A sent message, and a bounce receiver for its bounce address (a real SMTP server on 127.0.0.1). */
async function setUp() {
  const h = await harness({ env: { RAGTIME_BOUNCE_ADDRESS: BOUNCES, SECRET_KEY: 'bounce-test-secret-key-0123456789abcdef' } })
  const verp = verpFromConfig(h.config)
  assert.ok(verp)
  const receiver = await startBounceReceiver({ outbox: h.outbox, clock: systemClock, logger: silentLogger, bounceAddress: BOUNCES, verp, host: '127.0.0.1', port: 0 })
  after(() => receiver.close())
  const id = await h.send('ann@example.net')
  h.worker.start()
  await h.outbox.waitFor(id, 'sent')
  const [delivered] = h.sink.received
  assert.ok(delivered)
  const messageId = /^Message-ID: (<[^>]+>)/m.exec(delivered.raw)?.[1] ?? ''
  /** Sends `raw` to the receiver from a mailer daemon (null sender), as a remote MTA would. */
  const report = async (raw: string, to = delivered.envelope.from) => {
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: receiver.port, secure: false, ignoreTLS: true })
    try {
      return await client.sendMail({ envelope: { from: '', to: [to] }, raw })
    } finally {
      client.close()
    }
  }
  const suppression = () => h.db.kysely.selectFrom('mail_suppression').selectAll().where('address', '=', 'ann@example.net').executeTakeFirst()
  const feedback = () => h.db.kysely.selectFrom('mail_feedback').selectAll().orderBy('id').execute()
  return { h, id, verp, delivered, messageId, report, suppression, feedback, port: receiver.port }
}

/** A raw connection to `port` and the first line the server says (its greeting, or a refusal). */
async function greeting(port: number): Promise<{ socket: Socket; line: string }> {
  const socket = connect(port, '127.0.0.1')
  after(() => socket.destroy())
  const line = await new Promise<string>((resolve, reject) => {
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\r\n')) resolve(text.split('\r\n')[0] ?? '')
    })
    socket.on('error', reject)
  })
  return { socket, line }
}

function dsn({ id = 'dsn-1@mx.example.net', action = 'failed', status = '5.1.1', messageId = '<unknown@ragtime.test>', finalRecipient = 'ann@example.net' } = {}) {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'To: bounces@ragtime.test',
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="=_b"',
    '',
    '--=_b',
    'Content-Type: text/plain',
    '',
    'I could not deliver your message.',
    '--=_b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    `Final-Recipient: rfc822; ${finalRecipient}`,
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; 550 ${status} <ann@example.net>: Recipient address rejected: User unknown`,
    '',
    '--=_b',
    'Content-Type: text/rfc822-headers',
    '',
    'From: Ragtime <noreply@ragtime.test>',
    `Message-ID: ${messageId}`,
    '',
    '--=_b--',
    '',
  ].join('\r\n')
}

describe('bounces by mail: VERP envelope senders and a bounce receiver', () => {
  test('each message has its own unforgeable VERP envelope sender', async () => {
    const { id, verp, delivered } = await setUp()
    assert.match(delivered.envelope.from, new RegExp(`^bounces\\+${id}-[0-9a-f]{12}@ragtime\\.test$`))
    assert.equal(verp.parse(delivered.envelope.from), id)
    assert.equal(verp.parse(delivered.envelope.from.replace(/-[0-9a-f]/, (m) => (m === '-0' ? '-1' : '-0'))), null, 'a changed MAC')
    assert.equal(verp.parse(delivered.envelope.from.replace(`+${id}-`, `+${id + 1}-`)), null, 'another id with this MAC')
    assert.match(delivered.raw, /^Message-ID: <[^>]+@ragtime\.test>\r$/m)
  })

  test('the VERP addresses of a bounce address and SECRET_KEY stay what earlier versions made (bounces of mail already sent still match)', () => {
    const config = loadConfig({ RAGTIME_BOUNCE_ADDRESS: 'bounces@mail.example.com', SECRET_KEY: 'k'.repeat(40), RAGTIME_MAIL_SENDER: 'R <noreply@ragtime.test>' })
    const addresses = verpFromConfig(config)
    // Made by the in-app VERP of 85afe0e, before the engine became @ragtime/outbox.
    assert.equal(addresses?.address(42), 'bounces+42-cd18c55102b8@mail.example.com')
    assert.equal(addresses?.parse('bounces+42-cd18c55102b8@mail.example.com'), 42)
  })

  test('a DSN with a 5.1.1 failure: the message is bounced, its address suppressed (source dsn); the same DSN twice counts once', async () => {
    const { h, id, report, suppression, feedback } = await setUp()
    const info = await report(dsn())
    assert.match(info.response, /^250 .*1 report recorded/)
    const row = await h.outbox.get(id)
    assert.equal(row?.state, 'bounced')
    assert.match(row?.lastError ?? '', /^bounced \(dsn\) 5\.1\.1: 550 5\.1\.1 <ann@example\.net>: Recipient address rejected: User unknown$/)
    assert.deepEqual(row?.lastFailure, { kind: 'bounced', smtpCode: null, smtpStatus: '5.1.1' })
    const suppressed = await suppression()
    assert.equal(suppressed?.source, 'dsn')
    assert.equal(Number(suppressed?.outbox_id), id)
    await report(dsn())
    const rows = await feedback()
    assert.equal(rows.length, 1, 'the same report twice counts once')
    assert.equal(rows[0]?.kind, 'bounce')
    assert.equal(rows[0]?.status, '5.1.1')
    // The next email to that address is not sent.
    const next = await h.send('ann@example.net')
    assert.equal((await h.outbox.get(next))?.state, 'suppressed')
  })

  test('a delayed DSN (4.x.x) is noted: no suppression, the message stays sent', async () => {
    const { h, id, report, suppression, feedback } = await setUp()
    await report(dsn({ action: 'delayed', status: '4.2.2' }))
    assert.equal((await h.outbox.get(id))?.state, 'sent')
    assert.equal(await suppression(), undefined)
    const [row] = await feedback()
    assert.equal(row?.kind, 'delay')
    assert.equal(row?.status, '4.2.2')
  })

  test('an ARF complaint to the bare bounce address, found by the returned Message-ID: suppressed as a complaint', async () => {
    const { h, id, delivered, messageId, report, suppression, feedback } = await setUp()
    const arf = [
      'From: Feedback Loop <fbl@isp.example.net>',
      'To: bounces@ragtime.test',
      'Subject: Abuse report',
      'Message-ID: <arf-1@isp.example.net>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
      '',
      '--arf',
      'Content-Type: text/plain',
      '',
      'This is an email abuse report.',
      '--arf',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: ExampleFBL/1.0',
      'Version: 1',
      '',
      '--arf',
      'Content-Type: message/rfc822',
      '',
      delivered.raw,
      '--arf--',
      '',
    ].join('\r\n')
    await report(arf, BOUNCES)
    assert.ok(messageId)
    assert.equal((await h.outbox.get(id))?.state, 'sent', 'a complaint does not unsend it')
    const suppressed = await suppression()
    assert.equal(suppressed?.source, 'arf')
    assert.match(suppressed?.reason ?? '', /complaint/)
    assert.equal((await feedback())[0]?.kind, 'complaint')
  })

  test('a non-standard bounce that quotes the original headers, sent to the bare address, is found by its Message-ID', async () => {
    const { h, id, messageId, report, suppression } = await setUp()
    const bounce = [
      'From: postmaster@legacy.example.net',
      'To: bounces@ragtime.test',
      'Subject: failure notice',
      'Message-ID: <legacy-1@legacy.example.net>',
      '',
      'Hi. This is the qmail-send program at legacy.example.net.',
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      '',
      '<ann@example.net>:',
      '550 5.1.1 mailbox unavailable',
      '',
      '--- Below this line is a copy of the message.',
      '',
      'From: Ragtime <noreply@ragtime.test>',
      `Message-ID: ${messageId}`,
      'Subject: Hello',
      '',
    ].join('\r\n')
    await report(bounce, BOUNCES)
    assert.equal((await h.outbox.get(id))?.state, 'bounced')
    assert.equal((await suppression())?.source, 'dsn')
  })

  test('forged, unrelated, huge and malformed mail is refused or ignored, never a crash', async () => {
    const { h, id, delivered, report, suppression, feedback } = await setUp()
    const forged = delivered.envelope.from.replace(/-([0-9a-f])/, (_, c: string) => `-${c === '0' ? '1' : '0'}`)
    await assert.rejects(report(dsn(), forged), /550/, 'a VERP address with a wrong MAC is refused at RCPT TO')
    await assert.rejects(report(dsn(), 'postmaster@ragtime.test'), /550/, 'not our bounce address')
    // An out-of-office reply and garbage are accepted and dropped.
    await report(['From: Ann <ann@example.net>', 'Subject: Out of office', '', 'Back Monday. 550 seats left!'].join('\r\n'))
    await report('\u0000\u0001 not a message at all \r\n\r\n--')
    await report(dsn({ id: 'dsn-2@mx', messageId: '<nobody@ragtime.test>' }), BOUNCES)
    // Over 1 MB: refused.
    await assert.rejects(report(dsn().replace('I could not deliver your message.', 'x'.repeat(1_100_000))), /552/)
    assert.equal((await h.outbox.get(id))?.state, 'sent')
    assert.equal(await suppression(), undefined)
    assert.deepEqual(await feedback(), [])
    // Still serving.
    await report(dsn())
    assert.equal((await h.outbox.get(id))?.state, 'bounced')
  })
})

describe('the bounce receiver’s connections', () => {
  test('one address gets ten at once; the eleventh is told 421 and closed; a slot comes back when one closes', async () => {
    const { port } = await setUp()
    const held = []
    for (let i = 0; i < 10; i++) held.push(await greeting(port))
    assert.ok(held.every((c) => c.line.startsWith('220 ')), held.map((c) => c.line).join('\n'))
    const refused = await greeting(port)
    assert.match(refused.line, /^421 /)
    refused.socket.destroy()
    const closed = held.pop()!
    closed.socket.end('QUIT\r\n')
    await new Promise((resolve) => closed.socket.once('close', resolve))
    await until(async () => {
      const again = await greeting(port)
      again.socket.destroy()
      return again.line.startsWith('220 ')
    }, 'a slot to come back')
    // Before the receiver's close, which would wait for them.
    for (const c of held) c.socket.destroy()
  })
})

describe('the suppression a report makes', () => {
  test('is keyed like every other: an address with capitals is suppressed for every spelling', async () => {
    const h = await harness()
    const id = await h.send('Ann.Mixed@Example.NET')
    h.worker.start()
    const row = await h.outbox.waitFor(id, 'sent')
    const { recordFeedback } = await import('../../src/mail/index.ts')
    await recordFeedback(h.outbox, { kind: 'bounce', source: 'dsn', eventId: 'x', messageId: row.messageId, status: '5.1.1', detail: 'no such user' }, Date.now())
    for (const spelling of ['Ann.Mixed@example.net', 'ann.mixed@EXAMPLE.net']) {
      assert.equal((await h.outbox.get(await h.send(spelling)))?.state, 'suppressed', spelling)
    }
  })
})

describe('what a report changes, and what it does not', () => {
  test('a permanent failure that is not about the address (5.7.1 policy, 4.4.7 gave up) bounces the message but suppresses nothing', async () => {
    for (const status of ['5.7.1', '4.4.7']) {
      const { h, id, report, suppression } = await setUp()
      await report(dsn({ status }))
      assert.equal((await h.outbox.get(id))?.state, 'bounced', status)
      assert.equal(await suppression(), undefined, `${status}: the address stays mailable`)
    }
  })

  test('a DSN about another recipient (where a forwarder sent it on) is ignored', async () => {
    const { h, id, report, suppression, feedback } = await setUp()
    await report(dsn({ finalRecipient: 'ann@forwarded.example.org' }))
    assert.equal((await h.outbox.get(id))?.state, 'sent')
    assert.equal(await suppression(), undefined)
    assert.deepEqual(await feedback(), [])
  })

  test('a mailer daemon’s delay warning, or a number that looks like a reply, is not a bounce', async () => {
    const daemon = (subject: string, body: string) =>
      ['From: MAILER-DAEMON@mx.example.net', `Subject: ${subject}`, 'Message-ID: <w@mx>', '', body].join('\r\n')
    assert.equal(readReport(daemon('Delivery Status Notification (Delay)', '550 5.1.1 still trying')).format, 'none')
    assert.equal(readReport(daemon('Undelivered Mail', 'Call us on\r\n555-1234 or 520 KB left')).format, 'none')
    assert.equal(readReport(daemon('Undelivered Mail', 'host mx said:\r\n550 5.1.1 <a@b>: no such user')).format, 'bounce')
  })

  test('hostile input costs linear time: a megabyte of what would make a backtracking pattern crawl', () => {
    const mb = 1024 * 1024
    const hostile = [
      '<'.repeat(mb),
      `From: ${'<'.repeat(mb)}\r\nSubject: failure notice\r\n\r\n${'\n '.repeat(mb / 2)}`,
      `From: MAILER-DAEMON@x\r\nSubject: Undelivered\r\n\r\n${' '.repeat(mb)}550`,
      `Content-Type: multipart/report; boundary="b"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: ${'<'.repeat(mb)}\r\n--b--`,
      `Content-Type: multipart/report; boundary="b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n${'\r\n \t'.repeat(mb / 4)}`,
      `From: MAILER-DAEMON@x\r\nSubject: Undelivered\r\n\r\n${'Message-ID:'.repeat(mb / 11)}`,
    ]
    for (const [i, raw] of hostile.entries()) {
      const started = performance.now()
      readReport(raw)
      // A quadratic pattern takes minutes on a megabyte; linear work takes milliseconds.
      assert.ok(performance.now() - started < 3_000, `input ${i} took ${Math.round(performance.now() - started)} ms`)
    }
  })
})
