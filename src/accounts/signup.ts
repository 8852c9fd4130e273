import { isUniqueViolation, transaction } from '../db/index.ts'
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
 * An address that already has an account gets the same answer, and its owner a notice instead
 * of a second link; the password is hashed either way, so both take as long.
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
    const existing = clash.addressOwner
    if (existing) {
      // One notice per address per hour, however often someone tries.
      await ctx.mail.alreadyRegistered(trx, existing.email, `already-registered:${existing.id}:${Math.floor(now / 3_600_000)}`)
      return { ok: true }
    }
    if (clash.usernameTaken) {
      return { ok: false, reason: 'username-taken', fields: { username: 'That username is taken: choose another.' } }
    }
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
