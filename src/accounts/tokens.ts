import { createHash, randomBytes } from 'node:crypto'
import type { Transaction } from 'kysely'
import type { Database } from '../db/index.ts'

/** What a token sent by email allows, and for how long. */
export const TOKEN_LIFETIMES = Object.freeze({
  confirm: 48 * 3_600_000,
  reset: 3_600_000,
  'change-email': 24 * 3_600_000,
  'undo-email': 7 * 24 * 3_600_000,
})

export type TokenPurpose = keyof typeof TOKEN_LIFETIMES

export interface StoredToken {
  readonly userId: number
  readonly email: string | null
  readonly createdAt: number
  readonly usedAt: number | null
}

export type TokenCheck =
  | { ok: true; token: StoredToken }
  | { ok: false; reason: 'invalid' | 'expired' }

/** 256 random bits, URL-safe; only its SHA-256 is stored. */
export function newToken(): { token: string; id: string } {
  const token = randomBytes(32).toString('base64url')
  return { token, id: tokenId(token) }
}

export function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

export async function issueToken(
  trx: Transaction<Database>,
  { userId, purpose, email = null, now }: { userId: number; purpose: TokenPurpose; email?: string | null; now: number },
): Promise<{ token: string; id: string }> {
  const issued = newToken()
  await trx
    .insertInto('account_tokens')
    .values({
      id: issued.id,
      user_id: userId,
      purpose,
      email,
      outbox_id: null,
      created_at: now,
      expires_at: now + TOKEN_LIFETIMES[purpose],
      used_at: null,
    })
    .execute()
  return issued
}

/**
 * Looks a token up by its hash and purpose (a reset token never confirms an address). Used
 * tokens are returned as such: the caller decides whether a repeat is harmless.
 */
export async function checkToken(
  trx: Transaction<Database>,
  token: string,
  purpose: TokenPurpose,
  now: number,
): Promise<TokenCheck> {
  if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: 'invalid' }
  // The lookup is by hash: comparing hashes in SQL leaks nothing useful about the token.
  const row = await trx
    .selectFrom('account_tokens')
    .select(['user_id', 'email', 'created_at', 'expires_at', 'used_at'])
    .where('id', '=', tokenId(token))
    .where('purpose', '=', purpose)
    .executeTakeFirst()
  if (!row) return { ok: false, reason: 'invalid' }
  if (Number(row.expires_at) <= now) return { ok: false, reason: 'expired' }
  return {
    ok: true,
    token: {
      userId: Number(row.user_id),
      email: row.email,
      createdAt: Number(row.created_at),
      usedAt: row.used_at == null ? null : Number(row.used_at),
    },
  }
}

export type TokenUse =
  | { ok: true; token: StoredToken }
  | { ok: false; reason: 'invalid' | 'expired' }
  | { ok: false; reason: 'used'; token: StoredToken }

/**
 * Uses a token: it is marked used by the statement that finds it unused and unexpired, so two
 * requests racing with one link, or a use racing a change that voids the link, cannot both win
 * (under READ COMMITTED the second waits for the first's row lock, then finds the token used
 * or gone). A token that was already used comes back as such, for flows where a repeat is
 * harmless.
 */
export async function useToken(trx: Transaction<Database>, token: string, purpose: TokenPurpose, now: number): Promise<TokenUse> {
  if (!TOKEN_SHAPE.test(token)) return { ok: false, reason: 'invalid' }
  const row = await trx
    .updateTable('account_tokens')
    .set({ used_at: now })
    .where('id', '=', tokenId(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email', 'created_at'])
    .executeTakeFirst()
  if (row) return { ok: true, token: { userId: Number(row.user_id), email: row.email, createdAt: Number(row.created_at), usedAt: null } }
  const check = await checkToken(trx, token, purpose, now)
  return check.ok ? { ok: false, reason: 'used', token: check.token } : check
}

/** Voids every token of `purpose` the user holds (but `except`: a new link replaces older ones). */
export async function voidTokens(
  trx: Transaction<Database>,
  userId: number,
  purpose: TokenPurpose,
  { except }: { except?: string } = {},
): Promise<void> {
  let query = trx.deleteFrom('account_tokens').where('user_id', '=', userId).where('purpose', '=', purpose)
  if (except !== undefined) query = query.where('id', '<>', except)
  await query.execute()
}

/** Voids one token by its stored id (a link that was never sent). */
export async function voidToken(trx: Transaction<Database>, id: string): Promise<void> {
  await trx.deleteFrom('account_tokens').where('id', '=', id).execute()
}
