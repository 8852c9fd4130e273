import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/index.ts'
import { newToken, tokenId } from './tokens.ts'
import { findUserById, type User } from './users.ts'

export const SESSION_LIFETIME_MS = 14 * 24 * 3_600_000

type Writer = Kysely<Database> | Transaction<Database>

/** A new session for `userId`; the returned token goes in the cookie, its hash in the table. */
export async function createSession(db: Writer, userId: number, now: number): Promise<{ token: string; expiresAt: number }> {
  const { token, id } = newToken()
  const expiresAt = now + SESSION_LIFETIME_MS
  await db.insertInto('sessions').values({ id, user_id: userId, created_at: now, expires_at: expiresAt }).execute()
  return { token, expiresAt }
}

export async function sessionUser(db: Writer, token: string, now: number): Promise<User | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined
  const row = await db
    .selectFrom('sessions')
    .select(['user_id', 'expires_at'])
    .where('id', '=', tokenId(token))
    .executeTakeFirst()
  if (!row || Number(row.expires_at) <= now) return undefined
  return findUserById(db, Number(row.user_id))
}

export async function endSession(db: Writer, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', tokenId(token)).execute()
}

/** Logs the user out everywhere (password changed, address taken back). */
export async function endAllSessions(db: Writer, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute()
}
