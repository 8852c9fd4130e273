import type { Transaction } from 'kysely'
import { type Database, isUniqueViolation, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { sendNewConfirmation } from './confirm.ts'
import { findSignUpClash } from './users.ts'
import { checkEmail, checkPassword, checkUsername, type FieldErrors, validate } from './validation.ts'

export type SignUpResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; fields: FieldErrors }
  | { ok: false; reason: 'username-taken'; fields: FieldErrors }

/**
 * Creates an unconfirmed account and enqueues its confirmation email in the same transaction.
 * The answer never depends on whether the address has an account: a taken username is refused
 * whoever holds the address; an address with a confirmed account gets the same answer, and its
 * owner a notice instead of a second link; an address held only by an unconfirmed account is
 * taken over (that account is deleted): whoever can read the mailbox owns the address, not
 * whoever typed it first. The password is hashed every time, so every path takes as long.
 */
export async function signUp(ctx: AccountsContext, input: Record<string, unknown>): Promise<SignUpResult> {
  const checked = validate((errors) => ({
    email: checkEmail(input.email, errors),
    username: checkUsername(input.username, errors),
    password: checkPassword(input.password, errors),
  }))
  if (!checked.ok) return { ok: false, reason: 'invalid', fields: checked.fields }
  const { email, username, password } = checked.value
  const passwordHash = await ctx.passwords.hash(password)
  try {
    return await createAccount(ctx, email, username, passwordHash)
  } catch (err) {
    // Two sign-ups for one address (or username) at once: the loser now sees the winner.
    if (!isUniqueViolation(err)) throw err
    return createAccount(ctx, email, username, passwordHash)
  }
}

function createAccount(ctx: AccountsContext, email: string, username: string, passwordHash: string) {
  return transaction(ctx.db.kysely, async (trx): Promise<SignUpResult> => {
    const now = ctx.clock.now()
    const clash = await findSignUpClash(trx, email, username)
    if (clash.usernameTaken) {
      return { ok: false, reason: 'username-taken', fields: { username: 'That username is taken: choose another.' } }
    }
    const holder = clash.addressOwner
    if (holder?.confirmed) {
      await ctx.mail.alreadyRegistered(trx, holder.email)
      return { ok: true }
    }
    if (holder) await deleteUnconfirmed(ctx, trx, holder.id)
    const inserted = await trx
      .insertInto('users')
      .values({
        email,
        email_key: addressKey(email),
        username,
        username_key: username.toLowerCase(),
        password_hash: passwordHash,
        confirmed_at: null,
        password_changed_at: now,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    const user = { id: Number(inserted.id), email, username, confirmed: false, passwordHash, passwordChangedAt: now }
    await sendNewConfirmation(ctx, trx, user)
    await ctx.mail.newUser(trx, user)
    return { ok: true }
  })
}

/**
 * Deletes an account that never confirmed its address (taken over, or expired): its sessions
 * and tokens go with it (foreign keys cascade), and its confirmation mail still waiting to go
 * out is withdrawn. Only if it is still unconfirmed when the delete lands.
 */
export async function deleteUnconfirmed(ctx: AccountsContext, trx: Transaction<Database>, userId: number): Promise<boolean> {
  const pending = await trx.selectFrom('account_tokens').select('outbox_id').where('user_id', '=', userId).where('outbox_id', 'is not', null).execute()
  const deleted = await trx.deleteFrom('users').where('id', '=', userId).where('confirmed_at', 'is', null).executeTakeFirst()
  if (Number(deleted.numDeletedRows) === 0) return false
  await ctx.outbox.withdraw(trx, pending.map((row) => Number(row.outbox_id)))
  return true
}
