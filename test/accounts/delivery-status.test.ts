import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeDelivery } from '../../src/accounts/delivery-status.ts'
import type { MailState, OutboxRow } from '../../src/mail/index.ts'

const NOW = Date.UTC(2026, 10, 28, 12, 0)

function row(state: MailState, lastError: string | null = null, extra: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id: 1, state, template: 'auth/confirm', recipient: 'ann@example.test', subject: 'Confirm', messageId: '<x@y>',
    priority: 0, attempts: 1, lastError, lastResponse: null, createdAt: NOW - 60_000, runAt: NOW, sentAt: null, updatedAt: NOW,
    ...extra,
  }
}

test('each state in plain words; the correction is offered only when the address cannot take mail', () => {
  const cases: [OutboxRow | undefined, RegExp, boolean][] = [
    [undefined, /No confirmation email has been sent yet/, false],
    [row('queued'), /on its way/, false],
    [row('sending'), /on its way/, false],
    [row('sent', null, { sentAt: NOW }), /^Sent at 12:00 UTC\.$/, false],
    [row('retrying', 'ETIMEDOUT', { runAt: NOW + 5 * 60_000 }), /try again in about 5 minutes/, false],
    [row('suppressed'), /an earlier email to this address bounced/, true],
    [row('dead', 'EENVELOPE 550: 550 5.1.1 user unknown'), /could not be delivered: no such mailbox/, true],
    [row('cancelled'), /could not deliver/, true],
    [row('bounced', 'bounced (dsn) 5.1.1: 550 5.1.1 user unknown'), /^Your confirmation email could not be delivered: no such mailbox\.$/, true],
    [row('bounced', 'bounced (mailgun) 5.2.2: mailbox full'), /could not be delivered: mailbox full/, true],
    [row('expired'), /not sent in time, and its link has expired/, false],
  ]
  for (const [mail, headline, canCorrect] of cases) {
    const status = describeDelivery(mail, NOW)
    assert.match(status.headline, headline, mail?.state ?? 'none')
    assert.equal(status.canCorrect, canCorrect, mail?.state ?? 'none')
  }
})

test('a bounce is explained by its enhanced status code, or failing that by its words', () => {
  const advice = (error: string) => describeDelivery(row('dead', error), NOW).advice ?? ''
  assert.match(advice('EENVELOPE 550: 550 5.1.1 <ann@example.test>: user unknown'), /no mailbox with this address\. Check it for a typo/)
  assert.match(advice('EENVELOPE 550: 550 No such user here'), /no mailbox with this address/)
  assert.match(advice('EENVELOPE 550: 550 5.1.2 bad destination system'), /example\.test does not accept email/)
  assert.match(advice('EENVELOPE 552: 552 5.2.2 mailbox full'), /mailbox is full/)
  assert.match(advice('EMESSAGE 554: 554 5.7.1 message rejected as spam'), /taken it for spam/)
  assert.match(advice('550: 550 transaction failed'), /refused our email\. Check the address/)
  assert.match(advice('gave up after 40 attempts: ESOCKET: connect ECONNREFUSED 10.0.3.7:587'), /tried for a day but could not reach the mail server for example\.test/)
  assert.match(advice('the stored message is missing'), /went wrong on our side/)
})

test('no relay’s own words reach the user, a bounce’s included: only ours', () => {
  const said = (mail: OutboxRow) => JSON.stringify(describeDelivery(mail, NOW))
  const errors = [
    'EENVELOPE 550: 550 5.1.1 <ann@example.test>: user unknown at mx7.internal.example',
    'ESOCKET: connect ECONNREFUSED 10.0.3.7:587',
    'EAUTH 535: 535 5.7.8 authentication failed',
    'gave up after 290 attempts: ESOCKET: connect ECONNREFUSED 10.0.3.7:587',
  ]
  for (const error of errors) {
    for (const state of ['dead', 'retrying'] as const) {
      const text = said(row(state, error, { runAt: NOW + 60_000 }))
      assert.doesNotMatch(text, /mx7\.internal|10\.0\.3\.7|535|550|ECONNREFUSED/, `${state}: ${error}`)
    }
  }
})
