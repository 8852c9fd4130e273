import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Transaction } from 'kysely'
import { mailBudget } from '../../src/accounts/mail-budget.ts'
import { accountMailers } from '../../src/accounts/mailers.ts'
import { type Database, transaction } from '../../src/db/index.ts'
import { BASE_URL, webHarness } from '../helpers/web.ts'

const user = { username: 'ann', email: 'ann@example.test' }
const TOKEN = 'T'.repeat(43)

type Case = {
  name: string
  send: (m: ReturnType<typeof accountMailers>, trx: Transaction<Database>) => Promise<unknown>
  to: string
  subject: string
  link: string | null
}

const CASES: Case[] = [
  { name: 'confirm', send: (m, t) => m.confirm(t, user, TOKEN), to: user.email, subject: 'Confirm your account', link: `/auth/confirm/${TOKEN}` },
  { name: 'already registered', send: (m, t) => m.alreadyRegistered(t, user.email), to: user.email, subject: 'Someone tried to sign up with your address', link: '/auth/login' },
  { name: 'new user', send: (m, t) => m.newUser(t, user), to: 'boss@example.test', subject: 'New user', link: null },
  { name: 'reset', send: (m, t) => m.reset(t, user, TOKEN), to: user.email, subject: 'Reset your password', link: `/auth/reset/${TOKEN}` },
  { name: 'password changed', send: (m, t) => m.passwordChanged(t, user), to: user.email, subject: 'Your password was changed', link: '/auth/reset' },
  { name: 'change email', send: (m, t) => m.changeEmail(t, user, 'new@example.test', TOKEN), to: 'new@example.test', subject: 'Confirm your new address', link: `/auth/change-email/${TOKEN}` },
  { name: 'email changed', send: (m, t) => m.emailChanged(t, { ...user, email: 'new@example.test' }, user.email, TOKEN), to: user.email, subject: 'Your email address was changed', link: `/auth/change-email/undo/${TOKEN}` },
]

describe('every account email: subject, recipient, sender and link', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const h = await webHarness({ worker: false, env: { RAGTIME_ADMIN: 'boss@example.test' } })
      const mailers = accountMailers(h.deps.outbox, BASE_URL, 'boss@example.test', mailBudget(false))
      await transaction(h.db.kysely, (trx) => c.send(mailers, trx))
      await h.worker.runOnce()
      const mail = await h.mailTo(c.to)
      assert.equal(mail.subject, `Ragtime — ${c.subject}`)
      assert.deepEqual(mail.from?.value, [{ name: 'Ragtime', address: 'noreply@ragtime.test' }])
      assert.deepEqual(h.sink.received[0]?.envelope.to, [c.to])
      if (c.link) {
        assert.ok((mail.text ?? '').includes(`${BASE_URL}${c.link}`), `text part links to ${c.link}`)
        assert.ok(String(mail.html).includes(`href="${BASE_URL}${c.link}"`), `HTML part links to ${c.link}`)
      }
      assert.match(String(mail.html), /<p class="brand"/, 'the shared layout')
    })
  }
})
