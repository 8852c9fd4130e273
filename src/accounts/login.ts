import { normalizeAddress } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'
import { findUserByEmail, type User } from './users.ts'

export type LoginResult = { ok: true; user: User } | { ok: false; reason: 'invalid-credentials' }

/** Checks an address and password; a miss costs as much as a hit, and says nothing of which. */
export async function checkCredentials(ctx: AccountsContext, email: unknown, password: unknown): Promise<LoginResult> {
  const address = normalizeAddress(email)
  const user = address.ok ? await findUserByEmail(ctx.db.kysely, address.address) : undefined
  const given = typeof password === 'string' ? password : ''
  const matches = user ? await ctx.passwords.verify(given, user.passwordHash) : await ctx.passwords.verifyDecoy(given)
  return user && matches ? { ok: true, user } : { ok: false, reason: 'invalid-credentials' }
}
