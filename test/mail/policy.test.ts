import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { retryDelay } from '../../packages/outbox/src/backoff.ts'
import { classifyFailure } from '../../src/mail/index.ts'

describe('classifyFailure', () => {
  // As nodemailer's SMTPConnection reports them: `command` is what the server answered.
  const smtp = (responseCode: number, response: string, code = 'EENVELOPE', command?: string) =>
    Object.assign(new Error(response), { responseCode, response, code, ...(command ? { command } : {}) })
  const rcpt = (responseCode: number, response: string) => smtp(responseCode, response, 'EENVELOPE', 'RCPT TO')

  test('SMTP 4xx and network errors are transient', () => {
    assert.equal(classifyFailure(smtp(451, '451 4.3.0 later')).kind, 'transient')
    assert.equal(classifyFailure(Object.assign(new Error('refused'), { code: 'ECONNECTION' })).kind, 'transient')
    assert.equal(classifyFailure(Object.assign(new Error('slow'), { code: 'ETIMEDOUT' })).kind, 'transient')
    assert.equal(classifyFailure('something odd').kind, 'transient')
  })

  test('SMTP 5xx is permanent; only 5.1.x suppresses the address', () => {
    assert.deepEqual(classifyFailure(rcpt(550, '550 5.1.1 no such user')), {
      kind: 'permanent',
      suppress: true,
      message: 'EENVELOPE 550: 550 5.1.1 no such user',
      smtpCode: 550,
      smtpStatus: '5.1.1',
    })
    assert.equal(classifyFailure(rcpt(550, '550 5.1.10 null MX')).suppress, true)
    assert.equal(classifyFailure(rcpt(554, '554 5.7.1 spam')).suppress, false)
    assert.equal(classifyFailure(rcpt(550, '550 mailbox unavailable')).suppress, false)
  })

  test('a refused MAIL FROM is about our sender: permanent, and no recipient is suppressed', () => {
    for (const response of ['550 5.1.8 sender rejected', '553 5.1.7 bad sender syntax', '550 5.1.1 sender unknown', '550 5.1.0 Sender denied']) {
      assert.deepEqual(classifyFailure(smtp(Number(response.slice(0, 3)), response, 'EENVELOPE', 'MAIL FROM')), {
        kind: 'permanent',
        suppress: false,
        message: `EENVELOPE ${response.slice(0, 3)} MAIL FROM: ${response}`,
        smtpCode: Number(response.slice(0, 3)),
        smtpStatus: response.slice(4, 9),
      })
    }
    assert.equal(classifyFailure(smtp(451, '451 4.1.8 sender domain not resolved', 'EENVELOPE', 'MAIL FROM')).kind, 'transient')
  })

  test('RCPT TO: 5.1.x suppresses, except the sender codes 5.1.7 and 5.1.8 (sender checks answered at RCPT TO)', () => {
    assert.equal(classifyFailure(rcpt(550, '550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown')).suppress, true)
    assert.equal(classifyFailure(rcpt(553, '553 5.1.3 bad recipient address syntax')).suppress, true)
    assert.equal(classifyFailure(rcpt(550, '550 5.1.2 bad destination system')).suppress, true)
    assert.equal(classifyFailure(rcpt(551, '551 5.1.6 mailbox has moved')).suppress, true)
    assert.equal(classifyFailure(rcpt(550, '550 5.1.8 <noreply@ragtime.test>: Sender address rejected: Domain not found')).suppress, false)
    assert.equal(classifyFailure(rcpt(553, '553 5.1.7 bad sender mailbox syntax')).suppress, false)
    // Postfix's reject_unlisted_sender / reject_unverified_sender: a generic 5.1.0 that says whose address it is.
    assert.equal(classifyFailure(rcpt(550, '550 5.1.0 <noreply@ragtime.test>: Sender address rejected: User unknown in local recipient table')).suppress, false)
    assert.equal(classifyFailure(rcpt(550, '550 5.1.0 <gone@example.test>: Recipient address rejected: User unknown')).suppress, true)
    assert.equal(classifyFailure(rcpt(550, '550 5.1.8 sender rejected')).kind, 'permanent')
    assert.equal(classifyFailure(rcpt(450, '450 4.1.1 recipient not verified yet')).kind, 'transient')
    assert.equal(classifyFailure(rcpt(450, '450 4.1.1 recipient not verified yet')).suppress, false)
  })

  test('DATA and the end of data: 5.1.x suppresses, except the sender codes 5.1.7 and 5.1.8', () => {
    // The DATA command refused (EENVELOPE), and the message refused after its data (EMESSAGE).
    assert.equal(classifyFailure(smtp(550, '550 5.1.1 no such user', 'EENVELOPE', 'DATA')).suppress, true)
    assert.equal(classifyFailure(smtp(550, '550 5.1.1 no such user', 'EMESSAGE', 'DATA')).suppress, true)
    assert.equal(classifyFailure(smtp(550, '550 5.1.8 bad sender system address', 'EMESSAGE', 'DATA')).suppress, false)
    assert.equal(classifyFailure(smtp(550, '550 5.1.7 bad sender mailbox syntax', 'EENVELOPE', 'DATA')).suppress, false)
    assert.equal(classifyFailure(smtp(550, '550 5.1.8 bad sender system address', 'EMESSAGE', 'DATA')).kind, 'permanent')
    assert.equal(classifyFailure(smtp(554, '554 5.7.1 spam', 'EMESSAGE', 'DATA')).suppress, false)
  })

  test('an error that does not name its command: the end of data may suppress, an envelope error may not', () => {
    // Only the answer after the data is EMESSAGE; an EENVELOPE one may be a refused sender.
    assert.equal(classifyFailure(smtp(550, '550 5.1.1 no such user', 'EMESSAGE')).suppress, true)
    assert.equal(classifyFailure(smtp(550, '550 5.1.8 sender rejected', 'EMESSAGE')).suppress, false)
    assert.deepEqual(classifyFailure(smtp(550, '550 5.1.1 no such user', 'EENVELOPE')), {
      kind: 'permanent',
      suppress: false,
      message: 'EENVELOPE 550: 550 5.1.1 no such user',
      smtpCode: 550,
      smtpStatus: '5.1.1',
    })
  })

  test('the reply code and enhanced status are kept as data, only from a server’s reply', () => {
    const reply = (error: unknown) => {
      const { smtpCode, smtpStatus } = classifyFailure(error)
      return { smtpCode, smtpStatus }
    }
    assert.deepEqual(reply(smtp(451, '451 4.3.0 later')), { smtpCode: 451, smtpStatus: '4.3.0' })
    assert.deepEqual(reply(rcpt(550, '550 mailbox unavailable')), { smtpCode: 550, smtpStatus: null })
    // No server answered: an address in the text is not a status.
    assert.deepEqual(reply(Object.assign(new Error('connect ECONNREFUSED 10.2.5.4:25'), { code: 'ECONNECTION' })), { smtpCode: null, smtpStatus: null })
  })

  test('a refused login is transient: the operator fixes the password and the mail goes out', () => {
    assert.equal(classifyFailure(smtp(535, '535 5.7.8 bad credentials', 'EAUTH')).kind, 'transient')
  })

  test('a 5xx while setting up the connection is not about the message: transient, nothing suppressed', () => {
    assert.equal(classifyFailure(smtp(554, '554 5.7.1 your IP is on a blocklist', 'EPROTOCOL')).kind, 'transient')
    assert.equal(classifyFailure(smtp(550, '550 5.1.1 greeting refused', 'EPROTOCOL', 'CONN')).suppress, false)
    assert.equal(classifyFailure(smtp(500, '500 command not recognized', 'ETLS')).kind, 'transient')
    assert.equal(classifyFailure(smtp(501, '501 bad EHLO', 'ECONNECTION')).kind, 'transient')
    assert.equal(classifyFailure(smtp(554, '554 5.6.0 message refused', 'EMESSAGE')).kind, 'permanent')
  })
})

describe('retryDelay', () => {
  const policy = { retryFirstMs: 5_000, retryMaxMs: 300_000 }
  test('doubles per attempt, within ±25% jitter, capped', () => {
    assert.equal(retryDelay(policy, 1, () => 0.5), 5_000)
    assert.equal(retryDelay(policy, 2, () => 0.5), 10_000)
    assert.equal(retryDelay(policy, 3, () => 0), 15_000)
    assert.equal(retryDelay(policy, 3, () => 1), 25_000)
    assert.equal(retryDelay(policy, 20, () => 1), 300_000)
    assert.equal(retryDelay(policy, 1_000, () => 0.5), 300_000)
  })
})
