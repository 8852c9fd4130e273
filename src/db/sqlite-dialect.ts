import type BetterSqlite3 from 'better-sqlite3'
import { CompiledQuery, type DatabaseConnection, SqliteDialect, SqliteDriver, type SqliteDatabase, type SqliteStatement } from 'kysely'

/**
 * SQLite with `BEGIN IMMEDIATE`: a transaction takes the write lock when it starts, so two
 * processes never both read and then fail to upgrade (SQLITE_BUSY_SNAPSHOT); the busy
 * timeout makes the second one wait instead. Prepared statements are kept (withStatementCache).
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase
  constructor(database: BetterSqlite3.Database) {
    const cached = withStatementCache(database)
    super({ database: cached })
    this.#database = cached
  }
  override createDriver() {
    return new ImmediateSqliteDriver({ database: this.#database })
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

/** Prepared statements kept, by SQL text, the least recently used dropped past this many. */
const STATEMENT_CACHE_SIZE = 200

/**
 * The database as Kysely's driver sees it, with each prepared statement kept for the next query
 * of the same text. The driver prepares every query it runs, and SQLite's parse and plan of a
 * statement cost more than running most of ours: in the worker's drain they were a third of the
 * database's time per message. A statement stays valid across schema changes (SQLite prepares it
 * again itself), and the driver runs one query at a time, so one object per text is enough.
 */
export function withStatementCache(database: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>()
  return {
    prepare(sql) {
      let statement = statements.get(sql)
      if (statement) {
        // Most recently used last: a Map iterates in insertion order.
        statements.delete(sql)
      } else {
        statement = database.prepare(sql)
        if (statements.size >= size) statements.delete(statements.keys().next().value as string)
      }
      statements.set(sql, statement)
      return statement
    },
    close() {
      statements.clear()
      database.close()
    },
  }
}
