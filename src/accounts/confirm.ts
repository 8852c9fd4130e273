import { transaction } from '../db/index.ts'
import type { AccountsContext } from './context.ts'
import { checkToken, issueToken, markUsed, voidTokens } from './tokens.ts'
import { findUserById, type User } from './users.ts'

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
    const now = ctx.clock.now()
    await voidTokens(trx, user.id, 'confirm')
    const { token, id } = await issueToken(trx, { userId: user.id, purpose: 'confirm', now })
    const outboxId = await ctx.mail.confirm(trx, fresh, token)
    await trx.updateTable('account_tokens').set({ outbox_id: outboxId }).where('id', '=', id).execute()
    return { ok: true }
  })
}

/** The delivery state of the user's latest confirmation email, for the "check your inbox" page. */
export async function confirmationDelivery(ctx: AccountsContext, userId: number) {
  const row = await ctx.db.kysely
    .selectFrom('account_tokens')
    .select('outbox_id')
    .where('user_id', '=', userId)
    .where('purpose', '=', 'confirm')
    .orderBy('created_at', 'desc')
    .executeTakeFirst()
  if (row?.outbox_id == null) return undefined
  const mail = await ctx.outbox.get(Number(row.outbox_id))
  return mail && { state: mail.state, attempts: mail.attempts, sentAt: mail.sentAt, lastError: mail.lastError }
}
