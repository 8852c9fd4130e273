import type { Transaction } from 'kysely'
import { type Database, isUniqueViolation, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { type DeliveryStatus, describeDelivery } from './delivery-status.ts'
import { checkToken, issueToken, markUsed, voidTokens } from './tokens.ts'
import { findUserByEmail, findUserById, type User } from './users.ts'
import { checkEmail, type FieldErrors, validate } from './validation.ts'

/** `firstUse`: this request confirmed the account (a repeat only reports it). */
export type ConfirmResult = { ok: true; user: User; firstUse: boolean } | { ok: false; reason: 'invalid' | 'expired' }

/** Whether a confirmation link is good, without using it (GET shows a button, nothing more). */
export function previewConfirmation(ctx: AccountsContext, token: string) {
  return transaction(ctx.db.kysely, (trx) => checkToken(trx, token, 'confirm', ctx.clock.now()))
}

/** Confirms the account the token was sent for. A repeat of a used link is harmless. */
export function confirmAccount(ctx: AccountsContext, token: string): Promise<ConfirmResult> {
  return transaction(ctx.db.kysely, async (trx): Promise<ConfirmResult> => {
    const now = ctx.clock.now()
    const check = await checkToken(trx, token, 'confirm', now)
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    if (!user) return { ok: false, reason: 'invalid' }
    if (!user.confirmed) {
      await trx.updateTable('users').set({ confirmed_at: now, updated_at: now }).where('id', '=', user.id).execute()
    }
    const firstUse = check.token.usedAt === null
    if (firstUse) await markUsed(trx, token, now)
    return { ok: true, user: { ...user, confirmed: true }, firstUse }
  })
}

export type ResendResult = { ok: true } | { ok: false; reason: 'already-confirmed' }

/** A new confirmation link for an unconfirmed user; older links stop working. */
export function resendConfirmation(ctx: AccountsContext, user: User): Promise<ResendResult> {
  return transaction(ctx.db.kysely, async (trx): Promise<ResendResult> => {
    const fresh = await findUserById(trx, user.id)
    if (!fresh || fresh.confirmed) return { ok: false, reason: 'already-confirmed' }
    await sendNewConfirmation(ctx, trx, fresh)
    return { ok: true }
  })
}

/**
 * A new confirmation link for `user` (at `user.email`): older links stop working, and their
 * emails, if still waiting to go out, are withdrawn (their links would not work).
 */
export async function sendNewConfirmation(ctx: AccountsContext, trx: Transaction<Database>, user: User): Promise<void> {
  const older = await trx
    .selectFrom('account_tokens')
    .select('outbox_id')
    .where('user_id', '=', user.id)
    .where('purpose', '=', 'confirm')
    .where('outbox_id', 'is not', null)
    .execute()
  await ctx.outbox.withdraw(trx, older.map((row) => Number(row.outbox_id)))
  await voidTokens(trx, user.id, 'confirm')
  const { token, id } = await issueToken(trx, { userId: user.id, purpose: 'confirm', now: ctx.clock.now() })
  const outboxId = await ctx.mail.confirm(trx, user, token)
  await trx.updateTable('account_tokens').set({ outbox_id: outboxId }).where('id', '=', id).execute()
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
 * the password, the account takes the new address and a new link goes to it. An address that
 * has an account gets the same answer (its owner is told instead), as at sign-up.
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
      const fresh = await findUserById(trx, user.id)
      if (!fresh || fresh.confirmed) return { ok: false, reason: 'already-confirmed', fields: {} }
      const now = ctx.clock.now()
      const owner = await findUserByEmail(trx, email)
      if (owner && owner.id !== user.id) {
        await ctx.mail.alreadyRegistered(trx, owner.email, `already-registered:${owner.id}:${Math.floor(now / 3_600_000)}`)
        return { ok: true }
      }
      await trx.updateTable('users').set({ email, email_key: addressKey(email), updated_at: now }).where('id', '=', user.id).execute()
      await sendNewConfirmation(ctx, trx, { ...fresh, email })
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
