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

export async function usernameTaken(db: Reader, username: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('username_key', '=', username.toLowerCase()).executeTakeFirst()
  return row !== undefined
}

export function publicUser(user: User): PublicUser {
  return { id: user.id, email: user.email, username: user.username, confirmed: user.confirmed }
}
