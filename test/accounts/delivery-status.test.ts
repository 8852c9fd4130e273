import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeDelivery } from '../../src/accounts/delivery-status.ts'
import type { LastFailure, MailState, OutboxRow } from '../../src/mail/index.ts'

const NOW = Date.UTC(2026, 10, 28, 12, 0)

/** A failure as the outbox stores it beside `last_error`: its kind, the reply code and the enhanced status. */
const failure = (kind: LastFailure['kind'], smtpCode: number | null = null, smtpStatus: string | null = null): LastFailure => ({ kind, smtpCode, smtpStatus })

function row(state: MailState, lastError: string | null = null, lastFailure: LastFailure | null = null, extra: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id: 1, state, template: 'auth/confirm', recipient: 'ann@example.test', subject: 'Confirm', messageId: '<x@y>',
    priority: 0, attempts: 1, lastError, lastFailure, lastResponse: null, createdAt: NOW - 60_000, runAt: NOW, sentAt: null, updatedAt: NOW,
    ...extra,
  }
}

test('each state in plain words; the correction is offered only when the address cannot take mail', () => {
  const cases: [OutboxRow | undefined, RegExp, boolean][] = [
    [undefined, /No confirmation email has been sent yet/, false],
    [row('queued'), /on its way/, false],
    [row('sending'), /on its way/, false],
    [row('sent', null, null, { sentAt: NOW }), /^Sent at 12:00 UTC\.$/, false],
    [row('retrying', 'ETIMEDOUT', failure('transient'), { runAt: NOW + 5 * 60_000 }), /try again in about 5 minutes/, false],
    [row('suppressed'), /an earlier email to this address bounced/, true],
    [row('dead', 'EENVELOPE 550: 550 5.1.1 user unknown', failure('permanent', 550, '5.1.1')), /could not be delivered: no such mailbox/, true],
    [row('cancelled'), /could not deliver/, true],
    [row('bounced', 'bounced (dsn) 5.1.1: 550 5.1.1 user unknown', failure('bounced', null, '5.1.1')), /^Your confirmation email could not be delivered: no such mailbox\.$/, true],
    [row('bounced', 'bounced (mailgun) 5.2.2: mailbox full', failure('bounced', null, '5.2.2')), /could not be delivered: mailbox full/, true],
    [row('expired'), /not sent in time, and its link has expired/, false],
  ]
  for (const [mail, headline, canCorrect] of cases) {
    const status = describeDelivery(mail, NOW)
    assert.match(status.headline, headline, mail?.state ?? 'none')
    assert.equal(status.canCorrect, canCorrect, mail?.state ?? 'none')
  }
})

test('a bounce is explained by its enhanced status code, or failing that by its words', () => {
  const advice = (error: string, stored: LastFailure) => describeDelivery(row('dead', error, stored), NOW).advice ?? ''
  assert.match(advice('EENVELOPE 550: 550 5.1.1 <ann@example.test>: user unknown', failure('permanent', 550, '5.1.1')), /no mailbox with this address\. Check it for a typo/)
  assert.match(advice('EENVELOPE 550: 550 No such user here', failure('permanent', 550)), /no mailbox with this address/)
  assert.match(advice('EENVELOPE 550: 550 5.1.2 bad destination system', failure('permanent', 550, '5.1.2')), /example\.test does not accept email/)
  assert.match(advice('EENVELOPE 552: 552 5.2.2 mailbox full', failure('permanent', 552, '5.2.2')), /mailbox is full/)
  assert.match(advice('EMESSAGE 554: 554 5.7.1 message rejected as spam', failure('permanent', 554, '5.7.1')), /taken it for spam/)
  assert.match(advice('550: 550 transaction failed', failure('permanent', 550)), /refused our email\. Check the address/)
  assert.match(
    advice('gave up after 40 attempts: ESOCKET: connect ECONNREFUSED 10.0.3.7:587', failure('gave-up')),
    /tried for a day but could not reach the mail server for example\.test/,
  )
  assert.match(advice('the stored message is missing', failure('permanent')), /went wrong on our side/)
  // The stored data decides, not the words: a 5.1.1 that the error text does not spell out.
  assert.match(advice('EENVELOPE 550: 550 rejected', failure('permanent', 550, '5.1.1')), /no mailbox with this address/)
})

test('no relay’s own words reach the user, a bounce’s included: only ours', () => {
  const said = (mail: OutboxRow) => JSON.stringify(describeDelivery(mail, NOW))
  const errors: [string, LastFailure][] = [
    ['EENVELOPE 550: 550 5.1.1 <ann@example.test>: user unknown at mx7.internal.example', failure('permanent', 550, '5.1.1')],
    ['ESOCKET: connect ECONNREFUSED 10.0.3.7:587', failure('transient')],
    ['EAUTH 535: 535 5.7.8 authentication failed', failure('transient', 535, '5.7.8')],
    ['gave up after 290 attempts: ESOCKET: connect ECONNREFUSED 10.0.3.7:587', failure('gave-up')],
  ]
  for (const [error, stored] of errors) {
    for (const state of ['dead', 'retrying'] as const) {
      const text = said(row(state, error, stored, { runAt: NOW + 60_000 }))
      assert.doesNotMatch(text, /mx7\.internal|10\.0\.3\.7|535|550|ECONNREFUSED/, `${state}: ${error}`)
    }
  }
})
