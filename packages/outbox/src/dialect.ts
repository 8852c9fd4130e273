import { type Kysely, PostgresAdapter, SqliteAdapter } from 'kysely'
import type { Dialect } from './db.ts'

/** Which database `db` speaks, from its Kysely adapter. */
export function dialectOf(db: Kysely<unknown>): Dialect {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof PostgresAdapter) return 'postgres'
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  throw new Error('the outbox runs on SQLite or PostgreSQL: pass `dialect` if yours is one of them under another adapter')
}
