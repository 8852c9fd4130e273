import type { Transaction } from 'kysely'
import { countInWindow, type Database } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { EnqueueOptions, Outbox } from '../mail/index.ts'
import type { MailBudget } from './mail-budget.ts'
import { TOKEN_LIFETIMES, type TokenPurpose } from './tokens.ts'

declare module '../mail/templates.ts' {
  interface MailTemplates {
    'auth/confirm': { username: string; confirmUrl: string; hours: number }
    'auth/already-registered': { loginUrl: string; resetUrl: string }
    'auth/new-user': { username: string; email: string }
    'auth/reset': { username: string; resetUrl: string; minutes: number }
    'auth/password-changed': { username: string; resetUrl: string }
    'auth/change-email': { username: string; confirmUrl: string; hours: number }
    'auth/email-changed': { username: string; newEmail: string; undoUrl: string; days: number }
  }
}

type Recipient = { username: string; email: string }

/**
 * One function per email the accounts send (Rails' mailer shape): each picks its template,
 * subject, recipient and priority, and enqueues inside the caller's transaction.
 *
 * Mail that anyone can make us send to an address (links, "someone tried") is taken from that
 * address's budget: over it, nothing is enqueued and the mailer returns undefined. Notices of
 * what was done to an account (password changed, address changed) always go.
 */
export function accountMailers(outbox: Outbox, baseUrl: string, admin: string | undefined, budget: MailBudget) {
  const url = (path: string) => `${baseUrl}${path}`
  // A link is a credential: once it is void, its stored copy goes too (the outbox purges it).
  const carrying = (purpose: TokenPurpose): EnqueueOptions => ({
    priority: 'high',
    bodyExpiresAt: new Date(outbox.clock.now() + TOKEN_LIFETIMES[purpose]),
  })
  // A link that would arrive void is not sent at all (the message ends `expired`).
  const expiring = (purpose: TokenPurpose): EnqueueOptions => ({
    ...carrying(purpose),
    deadline: new Date(outbox.clock.now() + TOKEN_LIFETIMES[purpose]),
  })
  const high: EnqueueOptions = { priority: 'high' }
  const budgeted = async (trx: Transaction<Database>, to: string, send: () => Promise<number>): Promise<number | undefined> =>
    (await budget(trx, to, outbox.clock.now())) ? send() : undefined

  return {
    confirm: (trx: Transaction<Database>, user: Recipient, token: string) =>
      budgeted(trx, user.email, () =>
        outbox.enqueue(
          trx,
          {
            template: 'auth/confirm',
            to: user.email,
            subject: 'Confirm your account',
            context: { username: user.username, confirmUrl: url(`/auth/confirm/${token}`), hours: TOKEN_LIFETIMES.confirm / 3_600_000 },
          },
          expiring('confirm'),
        ),
    ),

    /**
     * To the owner of an address someone tried to sign up with (or move an account to) again: no
     * second link, and one notice per hour however often someone tries (the repeats take nothing
     * from the address's budget).
     */
    alreadyRegistered: async (trx: Transaction<Database>, email: string): Promise<number | undefined> => {
      const now = outbox.clock.now()
      const notice = {
        template: 'auth/already-registered',
        to: email,
        subject: 'Someone tried to sign up with your address',
        context: { loginUrl: url('/auth/login'), resetUrl: url('/auth/reset') },
      } as const
      const { hits } = await countInWindow(trx, `notice-already-registered:${addressKey(email)}`, 3_600_000, now)
      if (hits > 1 || !(await budget(trx, email, now))) {
        // Not sent, but rendered all the same: a sign-up for a new address renders its confirmation,
        // and the time a render takes must not tell the two apart.
        await outbox.render(notice)
        return undefined
      }
      return outbox.enqueue(trx, notice, { priority: 'normal' })
    },

    /** To RAGTIME_ADMIN; a notice, so it waits behind mail people are waiting for. */
    newUser: async (trx: Transaction<Database>, user: Recipient) => {
      if (!admin) return undefined
      return outbox.enqueue(
        trx,
        { template: 'auth/new-user', to: admin, subject: 'New user', context: { username: user.username, email: user.email } },
        { priority: 'low' },
      )
    },

    /** `budgeted: false` for a browser that logged in to the account before (see known-devices). */
    reset: (trx: Transaction<Database>, user: Recipient, token: string, { budgeted: counted = true } = {}) => {
      const send = () =>
        outbox.enqueue(
          trx,
          {
            template: 'auth/reset',
            to: user.email,
            subject: 'Reset your password',
            context: { username: user.username, resetUrl: url(`/auth/reset/${token}`), minutes: TOKEN_LIFETIMES.reset / 60_000 },
          },
          expiring('reset'),
        )
      return counted ? budgeted(trx, user.email, send) : send()
    },

    passwordChanged: (trx: Transaction<Database>, user: Recipient) =>
      outbox.enqueue(
        trx,
        {
          template: 'auth/password-changed',
          to: user.email,
          subject: 'Your password was changed',
          context: { username: user.username, resetUrl: url('/auth/reset') },
        },
        high,
      ),

    changeEmail: (trx: Transaction<Database>, user: Recipient, newEmail: string, token: string) =>
      budgeted(trx, newEmail, () =>
        outbox.enqueue(
          trx,
          {
            template: 'auth/change-email',
            to: newEmail,
            subject: 'Confirm your new address',
            context: {
              username: user.username,
              confirmUrl: url(`/auth/change-email/${token}`),
              hours: TOKEN_LIFETIMES['change-email'] / 3_600_000,
            },
          },
          expiring('change-email'),
        ),
    ),

    /** To the old address once the change is done, with a way back. */
    emailChanged: (trx: Transaction<Database>, user: Recipient, oldEmail: string, token: string) =>
      outbox.enqueue(
        trx,
        {
          template: 'auth/email-changed',
          to: oldEmail,
          subject: 'Your email address was changed',
          context: {
            username: user.username,
            newEmail: user.email,
            undoUrl: url(`/auth/change-email/undo/${token}`),
            days: TOKEN_LIFETIMES['undo-email'] / 86_400_000,
          },
        },
        carrying('undo-email'),
      ),
  }
}

export type AccountMailers = ReturnType<typeof accountMailers>
