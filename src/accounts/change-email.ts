import type { Transaction } from 'kysely'
import { type Database, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { endAllSessions } from './sessions.ts'
import { checkToken, issueToken, useToken, voidToken, voidTokens } from './tokens.ts'
import { deleteUnconfirmed } from './unconfirmed.ts'
import { findUserByEmail, findUserById, type User } from './users.ts'
import { checkEmail, type FieldErrors, validate } from './validation.ts'

export type ChangeRequestResult = { ok: true } | { ok: false; reason: 'invalid' | 'wrong-password'; fields: FieldErrors }

/**
 * Asks the new address to confirm itself. The current password is required. If the new address
 * already has a confirmed account, its owner is told instead, and the answer is the same.
 */
export async function requestEmailChange(
  ctx: AccountsContext,
  user: User,
  input: Record<string, unknown>,
): Promise<ChangeRequestResult> {
  const checked = validate((errors) => {
    const email = checkEmail(input.email, errors)
    if (typeof input.password !== 'string' || input.password === '') errors.password = 'Enter your current password.'
    if (email && addressKey(email) === addressKey(user.email)) errors.email = 'That is already your address.'
    return email
  })
  if (!checked.ok) return { ok: false, reason: 'invalid', fields: checked.fields }
  if (!(await ctx.passwords.verify(String(input.password), user.passwordHash))) {
    return { ok: false, reason: 'wrong-password', fields: { password: 'That is not your current password.' } }
  }
  const newEmail = checked.value
  await transaction(ctx.db.kysely, async (trx) => {
    const now = ctx.clock.now()
    // An address held only by an unconfirmed account is free to take (see switchAddress).
    const owner = await findUserByEmail(trx, newEmail)
    if (owner?.confirmed) {
      await ctx.mail.alreadyRegistered(trx, owner.email)
      return
    }
    const { token, id } = await issueToken(trx, { userId: user.id, purpose: 'change-email', email: newEmail, now })
    // Over the new address's mail budget: no email, so no new link, and the older one stands.
    if ((await ctx.mail.changeEmail(trx, user, newEmail, token)) === undefined) return voidToken(trx, id)
    await voidTokens(trx, user.id, 'change-email', { except: id })
  })
  return { ok: true }
}

export type ChangeResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'invalid' | 'expired' | 'address-taken' }

/** Whether a change-email or undo link is good, without using it. */
export function previewEmailToken(ctx: AccountsContext, token: string, purpose: 'change-email' | 'undo-email') {
  return transaction(ctx.db.kysely, async (trx) => {
    const check = await checkToken(trx, token, purpose, ctx.clock.now())
    if (!check.ok) return check
    const user = await findUserById(trx, check.token.userId)
    const stale = !user || check.token.usedAt !== null || (purpose === 'change-email' && check.token.createdAt < user.passwordChangedAt)
    return stale ? ({ ok: false, reason: 'invalid' } as const) : check
  })
}

/**
 * The new address confirmed itself: it becomes the account's address, and the old address is
 * told, with a link to undo the change for a limited time. Reset links sent to the old address
 * stop working.
 */
export function confirmEmailChange(ctx: AccountsContext, token: string): Promise<ChangeResult> {
  return switchAddress(ctx, token, 'change-email', async (trx, user, oldEmail, now) => {
    await voidTokens(trx, user.id, 'reset')
    const { token: undo } = await issueToken(trx, { userId: user.id, purpose: 'undo-email', email: oldEmail, now })
    await ctx.mail.emailChanged(trx, user, oldEmail, undo)
  })
}

/**
 * The old address takes the account back; every session ends (whoever changed it is out), and
 * every pending change and every reset link (sent to the address being undone) stops working.
 */
export function undoEmailChange(ctx: AccountsContext, token: string): Promise<ChangeResult> {
  return switchAddress(ctx, token, 'undo-email', async (trx, user) => {
    await voidTokens(trx, user.id, 'change-email')
    await voidTokens(trx, user.id, 'reset')
    await endAllSessions(trx, user.id)
  })
}

type AfterSwitch = (
  trx: Transaction<Database>,
  user: User,
  oldEmail: string,
  now: number,
) => Promise<void>

function switchAddress(
  ctx: AccountsContext,
  token: string,
  purpose: 'change-email' | 'undo-email',
  after: AfterSwitch,
): Promise<ChangeResult> {
  return transaction(ctx.db.kysely, async (trx): Promise<ChangeResult> => {
    const now = ctx.clock.now()
    const use = await useToken(trx, token, purpose, now)
    if (!use.ok) return { ok: false, reason: use.reason === 'expired' ? 'expired' : 'invalid' }
    const { userId, email, createdAt } = use.token
    const user = await findUserById(trx, userId)
    if (!user || !email) return { ok: false, reason: 'invalid' }
    // A change asked for before the password last changed is void (whoever knew the old
    // password asked for it); an undo is not: it belongs to the address being taken back.
    const sincePassword = purpose === 'change-email'
    if (sincePassword && createdAt < user.passwordChangedAt) return { ok: false, reason: 'invalid' }
    const owner = await findUserByEmail(trx, email)
    if (owner && owner.id !== user.id) {
      if (owner.confirmed) return { ok: false, reason: 'address-taken' }
      // Only a confirmed account holds an address: an unconfirmed one that took it meanwhile
      // (say, the old address just freed, squatted before the undo) gives it up.
      await deleteUnconfirmed(ctx, trx, owner.id, email)
    }
    // The password may have changed since it was read: the write re-checks it.
    let update = trx.updateTable('users').set({ email, email_key: addressKey(email), updated_at: now }).where('id', '=', user.id)
    if (sincePassword) update = update.where('password_changed_at', '<=', createdAt)
    if (Number((await update.executeTakeFirst()).numUpdatedRows) === 0) return { ok: false, reason: 'invalid' }
    const changed = { ...user, email }
    await after(trx, changed, user.email, now)
    return { ok: true, user: changed }
  })
}
