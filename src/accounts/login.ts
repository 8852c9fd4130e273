import { normalizeAddress } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { findUserByEmail, type User } from './users.ts'

export type LoginResult = { ok: true; user: User } | { ok: false; reason: 'invalid-credentials' }

/** Checks an address and password; a miss costs as much as a hit, and says nothing of which. */
export async function checkCredentials(ctx: AccountsContext, email: unknown, password: unknown): Promise<LoginResult> {
  const address = normalizeAddress(email)
  const user = address.ok ? await findUserByEmail(ctx.db.kysely, address.address) : undefined
  const given = typeof password === 'string' ? password : ''
  const matches = user ? await verifyAsLongAsDecoy(ctx, given, user.passwordHash) : await ctx.passwords.verifyDecoy(given)
  if (!user || !matches) return { ok: false, reason: 'invalid-credentials' }
  return { ok: true, user: ctx.passwords.needsRehash(user.passwordHash) ? await rehash(ctx, user, given) : user }
}

/**
 * A hash made at a lower cost than today's checks faster than the decoy an unknown address
 * gets, which would tell which addresses have (dormant) accounts: such a check also runs the
 * decoy, at once, so it takes as long as a miss.
 */
async function verifyAsLongAsDecoy(ctx: AccountsContext, password: string, stored: string): Promise<boolean> {
  if (!ctx.passwords.needsRehash(stored)) return ctx.passwords.verify(password, stored)
  const [matches] = await Promise.all([ctx.passwords.verify(password, stored), ctx.passwords.verifyDecoy(password)])
  return matches
}

/**
 * The stored hash was made with older scrypt parameters: now that the password is known, hash it
 * again with the current ones. Only the hash changes (not `password_changed_at`, which would void
 * reset links), and only if it is still the hash that was checked: a concurrent change wins.
 */
async function rehash(ctx: AccountsContext, user: User, password: string): Promise<User> {
  const passwordHash = await ctx.passwords.hash(password)
  const updated = await ctx.db.kysely
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: ctx.clock.now() })
    .where('id', '=', user.id)
    .where('password_hash', '=', user.passwordHash)
    .executeTakeFirst()
  return Number(updated.numUpdatedRows) > 0 ? { ...user, passwordHash } : user
}
