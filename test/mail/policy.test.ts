import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { retryDelay } from '../../src/mail/backoff.ts'
import { classifyFailure } from '../../src/mail/index.ts'

describe('classifyFailure', () => {
  const smtp = (responseCode: number, response: string, code = 'EENVELOPE') =>
    Object.assign(new Error(response), { responseCode, response, code })

  test('SMTP 4xx and network errors are transient', () => {
    assert.equal(classifyFailure(smtp(451, '451 4.3.0 later')).kind, 'transient')
    assert.equal(classifyFailure(Object.assign(new Error('refused'), { code: 'ECONNECTION' })).kind, 'transient')
    assert.equal(classifyFailure(Object.assign(new Error('slow'), { code: 'ETIMEDOUT' })).kind, 'transient')
    assert.equal(classifyFailure('something odd').kind, 'transient')
  })

  test('SMTP 5xx is permanent; only 5.1.x suppresses the address', () => {
    assert.deepEqual(classifyFailure(smtp(550, '550 5.1.1 no such user')), {
      kind: 'permanent',
      suppress: true,
      message: 'EENVELOPE 550: 550 5.1.1 no such user',
    })
    assert.equal(classifyFailure(smtp(550, '550 5.1.10 null MX')).suppress, true)
    assert.equal(classifyFailure(smtp(554, '554 5.7.1 spam')).suppress, false)
    assert.equal(classifyFailure(smtp(550, '550 mailbox unavailable')).suppress, false)
  })

  test('a refused login is transient: the operator fixes the password and the mail goes out', () => {
    assert.equal(classifyFailure(smtp(535, '535 5.7.8 bad credentials', 'EAUTH')).kind, 'transient')
  })

  test('a 5xx while setting up the connection is not about the message: transient, nothing suppressed', () => {
    assert.equal(classifyFailure(smtp(554, '554 5.7.1 your IP is on a blocklist', 'EPROTOCOL')).kind, 'transient')
    assert.equal(classifyFailure(smtp(550, '550 5.1.1 greeting refused', 'EPROTOCOL')).suppress, false)
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
