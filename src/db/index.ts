import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely } from 'kysely'
import type { DatabaseLocation } from '../config/index.ts'
import type { Database } from './schema.ts'
import { ImmediateSqliteDialect } from './sqlite-dialect.ts'

export type { Database, Millis } from './schema.ts'
export { migrateToLatest } from './migrate.ts'
export { isUniqueViolation } from './errors.ts'
export { afterCommit, transaction } from './transaction.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface Db {
  readonly kysely: Kysely<Database>
  readonly dialect: Dialect
  close(): Promise<void>
}

/** Opens the database the configuration names. SQLite: WAL, a busy timeout, foreign keys on. */
export function openDatabase(location: DatabaseLocation): Db {
  if (location.kind === 'postgres') {
    throw new Error('PostgreSQL is not supported yet: use a sqlite: DATABASE_URL')
  }
  mkdirSync(path.dirname(location.path), { recursive: true })
  const sqlite = new SqliteDatabase(location.path)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('busy_timeout = 10000')
  // FULL: a commit is on disk before enqueue returns, even across a power cut.
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  const kysely = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) })
  return { kysely, dialect: 'sqlite', close: () => kysely.destroy() }
}
