import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect } from 'kysely'
import type { DatabaseLocation } from '../config/index.ts'
import type { Database } from './schema.ts'
import { pg } from './pg.ts'
import { ImmediateSqliteDialect } from './sqlite-dialect.ts'

export type { Database, Millis } from './schema.ts'
export { migrateToLatest } from './migrate.ts'
export { isUniqueViolation } from './errors.ts'
export { transaction } from '@ragtime/outbox/lite'
export { pg } from './pg.ts'
export { clearWindow, countInWindow, purgeWindows, type WindowCount } from './fixed-window.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface Db {
  readonly kysely: Kysely<Database>
  readonly dialect: Dialect
  /** PostgreSQL only: the connection settings, for a dedicated LISTEN connection. */
  readonly postgresUrl?: string
  close(): Promise<void>
}

/** PostgreSQL: a connection pool of `poolSize`; SQLite: WAL, a busy timeout, foreign keys on. */
export function openDatabase(location: DatabaseLocation, { poolSize = 10 }: { poolSize?: number } = {}): Db {
  if (location.kind === 'postgres') {
    // A server that does not answer is an error in 5 s, not a request that hangs.
    const pool = new (pg().Pool)({ connectionString: location.url, max: poolSize, connectionTimeoutMillis: 5_000 })
    // A client that loses its connection must not crash the process: idle, the pool replaces
    // it; checked out, the query that was running fails and the pool drops it on release.
    pool.on('error', () => {})
    pool.on('connect', (client) => client.on('error', () => {}))
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { kysely, dialect: 'postgres', postgresUrl: location.url, close: () => kysely.destroy() }
  }
  mkdirSync(path.dirname(location.path), { recursive: true })
  const sqlite = new SqliteDatabase(location.path)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('busy_timeout = 10000')
  // FULL: a commit is on disk before enqueue returns, even across a power cut.
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  const kysely = new Kysely<Database>({ dialect: new ImmediateSqliteDialect(sqlite) })
  return { kysely, dialect: 'sqlite', close: () => kysely.destroy() }
}
