import { setTimeout as delay } from 'node:timers/promises'
import { clearWindow, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { endAllSessions } from './sessions.ts'
import { loginLockKey } from './login-lock.ts'
import { checkToken, issueToken, newToken, type StoredToken, useToken, voidToken, voidTokens } from './tokens.ts'
import { findUserByEmail, findUserById, type User } from './users.ts'
import { checkEmail, checkPassword, type FieldErrors, validate } from './validation.ts'

export type ResetRequestResult = { ok: true } | { ok: false; fields: FieldErrors }

/**
 * Sends a reset link if the address has an account. The answer is the same either way, and so
 * is its time: without an account the email is still rendered (and thrown away), and every
 * answer waits for the same floor.
 */
export async function requestPasswordReset(
  ctx: AccountsContext,
  input: Record<string, unknown>,
  { knownDevice = false }: { knownDevice?: boolean } = {},
): Promise<ResetRequestResult> {
  const checked = validate((errors) => checkEmail(input.email, errors))
  if (!checked.ok) return { ok: false, fields: checked.fields }
  // The writes for a real account take longer than none at all (more so on a remote
  // database): every answer waits until the same floor, so the time says nothing.
  const floor = delay(RESET_ANSWER_FLOOR_MS)
  await transaction(ctx.db.kysely, async (trx) => {
    const now = ctx.clock.now()
    const user = await findUserByEmail(trx, checked.value)
    if (!user) {
      await ctx.outbox.render({
        template: 'auth/reset',
        to: checked.value,
        subject: 'Reset your password',
        context: { username: '', resetUrl: newToken().token, minutes: 60 },
      })
      return
    }
    // Bound to the address it goes to: a change of address voids it (see also switchAddress).
    const { token, id } = await issueToken(trx, { userId: user.id, purpose: 'reset', email: user.email, now })
    // Over the address's mail budget: no email, and no link that nobody received.
    // (A browser that logged in to this account before is not held to the budget.)
    if ((await ctx.mail.reset(trx, user, token, { budgeted: !knownDevice })) === undefined) await voidToken(trx, id)
  })
  await floor
  return { ok: true }
}

/** How long a reset request takes at least, whether or not the address has an account. */
export const RESET_ANSWER_FLOOR_MS = 150

export type ResetResult =
  | { ok: true }
  | { ok: false; reason: 'invalid' | 'expired' }
  | { ok: false; reason: 'weak-password'; fields: FieldErrors }

/** Whether a reset link is good, without using it: unused, issued after the last password change, for the current address. */
export async function previewReset(ctx: AccountsContext, token: string) {
  return transaction(ctx.db.kysely, async (trx) => {
    const check = await checkToken(trx, token, 'reset', ctx.clock.now())
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    return user && usable(check.token, user) ? check : ({ ok: false, reason: 'invalid' } as const)
  })
}

function usable(token: StoredToken, user: User): boolean {
  const sameAddress = token.email !== null && addressKey(token.email) === addressKey(user.email)
  return token.usedAt === null && token.createdAt >= user.passwordChangedAt && sameAddress
}

/**
 * Sets a new password with a single-use link that any password change or change of address
 * voids; logs the user out everywhere, voids pending changes of address (whoever knew the old
 * password may have asked for one) and lifts a log-in lock-out, and tells them. No automatic
 * log-in. The link is checked before the new password is hashed, so a bad link costs nothing.
 */
export async function resetPassword(ctx: AccountsContext, token: string, input: Record<string, unknown>): Promise<ResetResult> {
  const checked = validate((errors) => checkPassword(input.password, errors))
  const preview = await previewReset(ctx, token)
  if (!preview.ok) return preview
  if (!checked.ok) return { ok: false, reason: 'weak-password', fields: checked.fields }
  const passwordHash = await ctx.passwords.hash(checked.value)
  return transaction(ctx.db.kysely, async (trx): Promise<ResetResult> => {
    const now = ctx.clock.now()
    const use = await useToken(trx, token, 'reset', now)
    if (!use.ok) return { ok: false, reason: use.reason === 'expired' ? 'expired' : 'invalid' }
    const user = await findUserById(trx, use.token.userId)
    const { createdAt, email } = use.token
    if (!user || !email || !usable(use.token, user)) return { ok: false, reason: 'invalid' }
    // A change in the same millisecond as the link's issue must still void it.
    const changedAt = Math.max(now, createdAt + 1)
    // The address and the password may have changed since they were read: the write re-checks both.
    const changed = await trx
      .updateTable('users')
      .set({ password_hash: passwordHash, password_changed_at: changedAt, updated_at: now })
      .where('id', '=', user.id)
      .where('email_key', '=', addressKey(email))
      .where('password_changed_at', '<=', createdAt)
      .executeTakeFirst()
    if (Number(changed.numUpdatedRows) === 0) return { ok: false, reason: 'invalid' }
    await voidTokens(trx, user.id, 'reset')
    await voidTokens(trx, user.id, 'change-email')
    await endAllSessions(trx, user.id)
    await clearWindow(trx, loginLockKey(user.email))
    await ctx.mail.passwordChanged(trx, user)
    return { ok: true }
  })
}
