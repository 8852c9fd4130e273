/**
 * Accounts: sign-up confirmed by email, log-in, password reset, change of address. Every flow
 * takes its own transaction and enqueues its email inside it; outcomes are returned as values.
 */
import type { Db } from '../db/index.ts'
import type { Clock, Outbox } from '../mail/index.ts'
import { confirmAccount, confirmationDelivery, correctAddress, previewConfirmation, resendConfirmation } from './confirm.ts'
import type { AccountsContext } from './context.ts'
import { confirmEmailChange, previewEmailToken, requestEmailChange, undoEmailChange } from './change-email.ts'
import { checkCredentials } from './login.ts'
import { purgeStale } from './maintenance.ts'
import { mailBudget } from './mail-budget.ts'
import { accountMailers } from './mailers.ts'
import { passwordHasher } from './passwords.ts'
import { previewReset, requestPasswordReset, resetPassword } from './password-reset.ts'
import { signUp } from './signup.ts'
import type { User } from './users.ts'

export { addressKey } from '../lib/email-address.ts'
export { createSession, endAllSessions, endSession, SESSION_LIFETIME_MS, sessionUser } from './sessions.ts'
export type { DeliveryStatus } from './delivery-status.ts'
export { TOKEN_LIFETIMES } from './tokens.ts'
export { MAIL_BUDGET } from './mail-budget.ts'
export { startAccountsMaintenance, UNCONFIRMED_LIFETIME_MS } from './maintenance.ts'
export { publicUser, type PublicUser, type User } from './users.ts'
export type { FieldErrors } from './validation.ts'

export interface AccountsOptions {
  readonly db: Db
  readonly outbox: Outbox
  readonly clock: Clock
  /** The only source of absolute links in email. */
  readonly baseUrl: string
  readonly admin: string | undefined
  /** log2 of scrypt's N (RAGTIME_PASSWORD_COST). */
  readonly passwordCost: number
  /** Count account emails against each address's budget (off with RAGTIME_RATE_LIMITS=off). */
  readonly mailBudget: boolean
}

export function createAccounts(options: AccountsOptions) {
  const ctx: AccountsContext = {
    db: options.db,
    outbox: options.outbox,
    clock: options.clock,
    mail: accountMailers(options.outbox, options.baseUrl, options.admin, mailBudget(options.mailBudget)),
    passwords: passwordHasher(options.passwordCost),
  }
  return {
    /** The admin is the confirmed account whose address is RAGTIME_ADMIN. */
    isAdmin: (user: User | undefined) =>
      Boolean(user?.confirmed && options.admin && user.email.toLowerCase() === options.admin.toLowerCase()),
    signUp: (input: Record<string, unknown>) => signUp(ctx, input),
    previewConfirmation: (token: string) => previewConfirmation(ctx, token),
    confirm: (token: string) => confirmAccount(ctx, token),
    resendConfirmation: (user: User) => resendConfirmation(ctx, user),
    confirmationDelivery: (userId: number) => confirmationDelivery(ctx, userId),
    correctAddress: (user: User, input: Record<string, unknown>) => correctAddress(ctx, user, input),
    checkCredentials: (email: unknown, password: unknown) => checkCredentials(ctx, email, password),
    requestPasswordReset: (input: Record<string, unknown>, options?: { knownDevice?: boolean }) => requestPasswordReset(ctx, input, options),
    previewReset: (token: string) => previewReset(ctx, token),
    resetPassword: (token: string, input: Record<string, unknown>) => resetPassword(ctx, token, input),
    requestEmailChange: (user: User, input: Record<string, unknown>) => requestEmailChange(ctx, user, input),
    previewEmailToken: (token: string, purpose: 'change-email' | 'undo-email') => previewEmailToken(ctx, token, purpose),
    confirmEmailChange: (token: string) => confirmEmailChange(ctx, token),
    undoEmailChange: (token: string) => undoEmailChange(ctx, token),
    /** Deletes expired unconfirmed accounts, sessions, links and rate-limit counters. */
    purgeStale: () => purgeStale(ctx),
  }
}

export type Accounts = ReturnType<typeof createAccounts>
