import { isUniqueViolation, transaction } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { sendNewConfirmation } from './confirm.ts'
import { deleteUnconfirmed } from './unconfirmed.ts'
import { findSignUpClash } from './users.ts'
import { checkEmail, checkPassword, checkUsername, type FieldErrors, validate } from './validation.ts'

export type SignUpResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; fields: FieldErrors }
  | { ok: false; reason: 'username-taken'; fields: FieldErrors }

/**
 * Creates an unconfirmed account and enqueues its confirmation email in the same transaction.
 * The answer never depends on whether the address has an account: a username another account
 * holds is refused whoever holds the address; an address with a confirmed account gets the same
 * answer, and its owner a notice instead of a second link; an address held only by an
 * unconfirmed account is taken over (that account is deleted): whoever can read the mailbox owns
 * the address, not whoever typed it first; that holds for a repeat too (same address, same
 * username: a double submit, a second try), whose link replaces the first. The password is
 * hashed every time, so every path takes as long.
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
  // Sign-ups for one address (or username) at once: a loser sees the winner and tries again
  // (replacing it, if it is a pending sign-up for the same address). Each retry follows a
  // commit, so a handful covers any burst a person can make.
  for (let attempt = 1; ; attempt++) {
    try {
      return await createAccount(ctx, email, username, passwordHash)
    } catch (err) {
      if (!isUniqueViolation(err) || attempt === SIGN_UP_ATTEMPTS) throw err
    }
  }
}

const SIGN_UP_ATTEMPTS = 10

function createAccount(ctx: AccountsContext, email: string, username: string, passwordHash: string) {
  return transaction(ctx.db.kysely, async (trx): Promise<SignUpResult> => {
    const now = ctx.clock.now()
    const clash = await findSignUpClash(trx, email, username)
    const holder = clash.addressOwner
    // The username of the account that holds this very address is no clash: that is a repeat.
    const repeat = holder !== undefined && holder.username.toLowerCase() === username.toLowerCase()
    if (clash.usernameTaken && !repeat) {
      return { ok: false, reason: 'username-taken', fields: { username: 'That username is taken: choose another.' } }
    }
    if (holder?.confirmed) {
      await ctx.mail.alreadyRegistered(trx, holder.email)
      return { ok: true }
    }
    if (holder) await deleteUnconfirmed(ctx, trx, holder.id, email)
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
