import { setTimeout as delay } from 'node:timers/promises'
import { transaction } from '../db/index.ts'
import type { AccountsContext } from './context.ts'
import { endAllSessions } from './sessions.ts'
import { checkToken, issueToken, markUsed, newToken, voidTokens } from './tokens.ts'
import { findUserByEmail, findUserById } from './users.ts'
import { checkEmail, checkPassword, type FieldErrors, validate } from './validation.ts'

export type ResetRequestResult = { ok: true } | { ok: false; fields: FieldErrors }

/**
 * Sends a reset link if the address has an account. The answer is the same either way, and so
 * is its time: without an account the email is still rendered (and thrown away), and every
 * answer waits for the same floor.
 */
export async function requestPasswordReset(ctx: AccountsContext, input: Record<string, unknown>): Promise<ResetRequestResult> {
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
    const { token } = await issueToken(trx, { userId: user.id, purpose: 'reset', now })
    await ctx.mail.reset(trx, user, token)
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

/** Whether a reset link is good, without using it. */
export async function previewReset(ctx: AccountsContext, token: string) {
  return transaction(ctx.db.kysely, async (trx) => {
    const check = await checkToken(trx, token, 'reset', ctx.clock.now())
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    const stale = !user || check.token.usedAt !== null || check.token.createdAt < user.passwordChangedAt
    return stale ? ({ ok: false, reason: 'invalid' } as const) : check
  })
}

/**
 * Sets a new password with a single-use link that any password change voids; logs the user
 * out everywhere and tells them. No automatic log-in.
 */
export async function resetPassword(ctx: AccountsContext, token: string, input: Record<string, unknown>): Promise<ResetResult> {
  const checked = validate((errors) => checkPassword(input.password, errors))
  if (!checked.ok) return { ok: false, reason: 'weak-password', fields: checked.fields }
  const passwordHash = await ctx.passwords.hash(checked.value)
  return transaction(ctx.db.kysely, async (trx): Promise<ResetResult> => {
    const now = ctx.clock.now()
    const check = await checkToken(trx, token, 'reset', now)
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    if (!user || check.token.usedAt !== null || check.token.createdAt < user.passwordChangedAt) {
      return { ok: false, reason: 'invalid' }
    }
    // A change in the same millisecond as the link's issue must still void it.
    const changedAt = Math.max(now, check.token.createdAt + 1)
    await trx
      .updateTable('users')
      .set({ password_hash: passwordHash, password_changed_at: changedAt, updated_at: now })
      .where('id', '=', user.id)
      .execute()
    await markUsed(trx, token, now)
    await voidTokens(trx, user.id, 'reset')
    await endAllSessions(trx, user.id)
    await ctx.mail.passwordChanged(trx, user)
    return { ok: true }
  })
}
