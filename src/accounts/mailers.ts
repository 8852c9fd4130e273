import type { Transaction } from 'kysely'
import type { Database } from '../db/index.ts'
import type { EnqueueOptions, Outbox } from '../mail/index.ts'
import { TOKEN_LIFETIMES } from './tokens.ts'

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
 */
export function accountMailers(outbox: Outbox, baseUrl: string, admin: string | undefined) {
  const url = (path: string) => `${baseUrl}${path}`
  const high: EnqueueOptions = { priority: 'high' }

  return {
    confirm: (trx: Transaction<Database>, user: Recipient, token: string) =>
      outbox.enqueue(
        trx,
        {
          template: 'auth/confirm',
          to: user.email,
          subject: 'Confirm your account',
          context: { username: user.username, confirmUrl: url(`/auth/confirm/${token}`), hours: TOKEN_LIFETIMES.confirm / 3_600_000 },
        },
        high,
      ),

    /** To the owner of an address someone tried to sign up with again: no second link. */
    alreadyRegistered: (trx: Transaction<Database>, email: string, dedupeKey: string) =>
      outbox.enqueue(
        trx,
        {
          template: 'auth/already-registered',
          to: email,
          subject: 'Someone tried to sign up with your address',
          context: { loginUrl: url('/auth/login'), resetUrl: url('/auth/reset') },
        },
        { priority: 'normal', dedupeKey },
      ),

    /** To RAGTIME_ADMIN; a notice, so it waits behind mail people are waiting for. */
    newUser: async (trx: Transaction<Database>, user: Recipient) => {
      if (!admin) return undefined
      return outbox.enqueue(
        trx,
        { template: 'auth/new-user', to: admin, subject: 'New user', context: { username: user.username, email: user.email } },
        { priority: 'low' },
      )
    },

    reset: (trx: Transaction<Database>, user: Recipient, token: string) =>
      outbox.enqueue(
        trx,
        {
          template: 'auth/reset',
          to: user.email,
          subject: 'Reset your password',
          context: { username: user.username, resetUrl: url(`/auth/reset/${token}`), minutes: TOKEN_LIFETIMES.reset / 60_000 },
        },
        high,
      ),

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
        high,
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
        high,
      ),
  }
}

export type AccountMailers = ReturnType<typeof accountMailers>
