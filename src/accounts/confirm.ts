import type { Transaction } from 'kysely'
import { type Database, isUniqueViolation, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { type DeliveryStatus, describeDelivery } from './delivery-status.ts'
import { endAllSessions } from './sessions.ts'
import { checkToken, issueToken, useToken } from './tokens.ts'
import { deleteUnconfirmed } from './unconfirmed.ts'
import { findUserByEmail, findUserById, type User } from './users.ts'
import { checkEmail, type FieldErrors, validate } from './validation.ts'

/** `firstUse`: this request confirmed the account (a repeat only reports it). */
export type ConfirmResult = { ok: true; user: User; firstUse: boolean } | { ok: false; reason: 'invalid' | 'expired' }

/** `used`: the link confirmed its account already (pressing Confirm again would log nobody in). */
export type ConfirmPreview = { ok: true; username: string; email: string } | { ok: false; reason: 'invalid' | 'expired' | 'used' }

/**
 * Whether a confirmation link is good, without using it (GET shows a button, nothing more), and
 * for which account: the page names it, so that whoever did not sign up knows not to confirm.
 */
export function previewConfirmation(ctx: AccountsContext, token: string): Promise<ConfirmPreview> {
  return transaction(ctx.db.kysely, async (trx): Promise<ConfirmPreview> => {
    const check = await checkToken(trx, token, 'confirm', ctx.clock.now())
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    if (!user || !check.token.email) return { ok: false, reason: 'invalid' }
    // As confirmAccount: a used link is a harmless repeat only while its account is confirmed.
    if (check.token.usedAt !== null) return { ok: false, reason: user.confirmed ? 'used' : 'invalid' }
    return { ok: true, username: user.username, email: check.token.email }
  })
}

/**
 * Confirms the address the token was sent to, for the account it was sent for: the token is
 * bound to that address, and the account changes only if it still has that address and is still
 * unconfirmed when the write lands (one statement, so a concurrent address correction cannot
 * slip in between). Every session that existed before ends: whoever logged in with the
 * unconfirmed account was not shown to own the address. A repeat of a used link is harmless.
 */
export function confirmAccount(ctx: AccountsContext, token: string): Promise<ConfirmResult> {
  return transaction(ctx.db.kysely, async (trx): Promise<ConfirmResult> => {
    const now = ctx.clock.now()
    const use = await useToken(trx, token, 'confirm', now)
    // A repeat (a second click, a double submit) reports success and changes nothing.
    const repeat = async (userId: number): Promise<ConfirmResult> => {
      const user = await findUserById(trx, userId)
      return user?.confirmed ? { ok: true, user, firstUse: false } : { ok: false, reason: 'invalid' }
    }
    if (!use.ok) return use.reason === 'used' ? repeat(use.token.userId) : use
    const { userId, email } = use.token
    if (!email) return { ok: false, reason: 'invalid' }
    const confirmed = await trx
      .updateTable('users')
      .set({ confirmed_at: now, updated_at: now })
      .where('id', '=', userId)
      .where('email_key', '=', addressKey(email))
      .where('confirmed_at', 'is', null)
      .executeTakeFirst()
    if (Number(confirmed.numUpdatedRows) === 0) return { ok: false, reason: 'invalid' }
    await endAllSessions(trx, userId)
    const user = await findUserById(trx, userId)
    return user ? { ok: true, user, firstUse: true } : { ok: false, reason: 'invalid' }
  })
}

export type ResendResult = { ok: true } | { ok: false; reason: 'already-confirmed' | 'mail-budget' }

/** A new confirmation link for an unconfirmed user; older links stop working. */
export function resendConfirmation(ctx: AccountsContext, user: User): Promise<ResendResult> {
  return transaction(ctx.db.kysely, async (trx): Promise<ResendResult> => {
    const fresh = await findUserById(trx, user.id)
    if (!fresh || fresh.confirmed) return { ok: false, reason: 'already-confirmed' }
    return (await sendNewConfirmation(ctx, trx, fresh)) ? { ok: true } : { ok: false, reason: 'mail-budget' }
  })
}

/**
 * A new confirmation link for `user` (at `user.email`, bound to it): older links stop working,
 * and their emails, if still waiting to go out, are withdrawn (their links would not work).
 * False when the address's mail budget is spent: then nothing changes.
 */
export async function sendNewConfirmation(ctx: AccountsContext, trx: Transaction<Database>, user: User): Promise<boolean> {
  const older = await trx
    .selectFrom('account_tokens')
    .select(['id', 'outbox_id'])
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'confirm')
    .execute()
  const { token, id } = await issueToken(trx, { userId: user.id, purpose: 'confirm', email: user.email, now: ctx.clock.now() })
  const outboxId = await ctx.mail.confirm(trx, user, token)
  if (outboxId === undefined) {
    await trx.deleteFrom('account_tokens').where('id', '=', id).execute()
    return false
  }
  await ctx.outbox.withdraw(trx, older.flatMap((row) => (row.outbox_id == null ? [] : [Number(row.outbox_id)])))
  if (older.length > 0) await trx.deleteFrom('account_tokens').where('id', 'in', older.map((row) => row.id)).execute()
  await trx.updateTable('account_tokens').set({ outbox_id: outboxId }).where('id', '=', id).execute()
  return true
}

/** Where the user's latest confirmation email is, in words for the "check your inbox" page. */
export async function confirmationDelivery(ctx: AccountsContext, userId: number): Promise<DeliveryStatus> {
  const row = await ctx.db.kysely
    .selectFrom('account_tokens')
    .select('outbox_id')
    .where('user_id', '=', userId)
    .where('purpose', '=', 'confirm')
    .orderBy('created_at', 'desc')
    .orderBy('outbox_id', 'desc')
    .executeTakeFirst()
  const mail = row?.outbox_id == null ? undefined : await ctx.outbox.get(Number(row.outbox_id))
  return describeDelivery(mail, ctx.clock.now())
}

export type CorrectAddressResult =
  | { ok: true }
  | { ok: false; reason: 'invalid' | 'wrong-password' | 'already-confirmed'; fields: FieldErrors }

/**
 * An unconfirmed user whose confirmation email could not be delivered fixes the address: with
 * the password, the account takes the new address and a new link goes to it. An address with a
 * confirmed account gets the same answer (its owner is told instead), as at sign-up; one held
 * only by another unconfirmed account is taken over, as at sign-up.
 */
export async function correctAddress(ctx: AccountsContext, user: User, input: Record<string, unknown>): Promise<CorrectAddressResult> {
  const checked = validate((errors) => {
    const email = checkEmail(input.email, errors)
    if (typeof input.password !== 'string' || input.password === '') errors.password = 'Enter your password.'
    return email
  })
  if (!checked.ok) return { ok: false, reason: 'invalid', fields: checked.fields }
  if (!(await ctx.passwords.verify(String(input.password), user.passwordHash))) {
    return { ok: false, reason: 'wrong-password', fields: { password: 'That is not your password.' } }
  }
  const email = checked.value
  const attempt = () =>
    transaction(ctx.db.kysely, async (trx): Promise<CorrectAddressResult> => {
      const now = ctx.clock.now()
      const owner = await findUserByEmail(trx, email)
      if (owner && owner.id !== user.id) {
        if (owner.confirmed) {
          await ctx.mail.alreadyRegistered(trx, owner.email)
          return { ok: true }
        }
        await deleteUnconfirmed(ctx, trx, owner.id, email)
      }
      // Only an account that is still unconfirmed when this write lands changes address: a
      // confirmation that commits first wins, and this one then changes nothing.
      const corrected = await trx
        .updateTable('users')
        .set({ email, email_key: addressKey(email), updated_at: now })
        .where('id', '=', user.id)
        .where('confirmed_at', 'is', null)
        .executeTakeFirst()
      if (Number(corrected.numUpdatedRows) === 0) return { ok: false, reason: 'already-confirmed', fields: {} }
      const fresh = await findUserById(trx, user.id)
      // Over the new address's mail budget: the address is corrected, its link comes on a resend.
      if (fresh) await sendNewConfirmation(ctx, trx, fresh)
      return { ok: true }
    })
  try {
    return await attempt()
  } catch (err) {
    // A sign-up took the address in the meantime: now it is an address with an account.
    if (!isUniqueViolation(err)) throw err
    return attempt()
  }
}
