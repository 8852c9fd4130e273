import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'

export interface User {
  readonly id: number
  readonly email: string
  readonly username: string
  readonly confirmed: boolean
  readonly passwordHash: string
  readonly passwordChangedAt: number
}

/** What the API shows of a user. */
export interface PublicUser {
  readonly id: number
  readonly email: string
  readonly username: string
  readonly confirmed: boolean
}

type Reader = Kysely<Database> | Transaction<Database>

const COLUMNS = ['id', 'email', 'username', 'confirmed_at', 'password_hash', 'password_changed_at'] as const

function toUser(row: {
  id: number
  email: string
  username: string
  confirmed_at: number | null
  password_hash: string
  password_changed_at: number
}): User {
  return {
    id: Number(row.id),
    email: row.email,
    username: row.username,
    confirmed: row.confirmed_at !== null,
    passwordHash: row.password_hash,
    passwordChangedAt: Number(row.password_changed_at),
  }
}

export async function findUserByEmail(db: Reader, email: string): Promise<User | undefined> {
  const row = await db.selectFrom('users').select(COLUMNS).where('email_key', '=', addressKey(email)).executeTakeFirst()
  return row && toUser(row)
}

export async function findUserById(db: Reader, id: number): Promise<User | undefined> {
  const row = await db.selectFrom('users').select(COLUMNS).where('id', '=', id).executeTakeFirst()
  return row && toUser(row)
}

/**
 * Who already holds this address, and whether anyone holds this username, read in one
 * statement: under PostgreSQL's READ COMMITTED two separate reads can straddle a concurrent
 * sign-up's commit and see the username taken but the address still free.
 */
export async function findSignUpClash(
  db: Reader,
  email: string,
  username: string,
): Promise<{ addressOwner?: User; usernameTaken: boolean }> {
  const key = addressKey(email)
  const name = username.toLowerCase()
  const rows = await db
    .selectFrom('users')
    .select([...COLUMNS, 'email_key', 'username_key'])
    .where((eb) => eb.or([eb('email_key', '=', key), eb('username_key', '=', name)]))
    .execute()
  const owner = rows.find((row) => row.email_key === key)
  return { addressOwner: owner && toUser(owner), usernameTaken: rows.some((row) => row.username_key === name) }
}

export function publicUser(user: User): PublicUser {
  return { id: user.id, email: user.email, username: user.username, confirmed: user.confirmed }
}
