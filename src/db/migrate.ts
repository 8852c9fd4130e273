import { migrate as migrateOutbox } from '@ragtime/outbox/lite'
import { type Kysely, type Migration, sql } from 'kysely'
import type { Db } from './index.ts'
import { migrations } from './migrations/index.ts'

/**
 * Where applied steps are recorded: the table (and columns) Kysely's Migrator used to keep, so a
 * database migrated by an earlier version carries on from where it is.
 */
const TABLE = 'ragtime_migration'

/**
 * Applies every pending migration, all in one transaction (both databases have transactional
 * DDL: a failing step leaves nothing behind); returns the names applied now.
 *
 * Our own loop rather than Kysely's Migrator: that one decides whether its bookkeeping table
 * exists by listing every column of every table in every schema of the database, several times
 * per run (kysely-org/kysely#1707), so start-up slows with the size of the whole database, not
 * with ours. Here the only queries are ours. Concurrent runs (several processes starting at once)
 * take turns: on PostgreSQL behind a transaction-scoped advisory lock keyed on the schema, on
 * SQLite behind the write lock that `BEGIN IMMEDIATE` takes (src/db/sqlite-dialect.ts).
 * `all`: the steps, by name (the tests pass their own, and then the outbox's are left alone).
 */
export async function migrateToLatest(db: Db, all?: Record<string, Migration>): Promise<string[]> {
  const applied = await migrateApp(db, all ?? migrations(db.dialect))
  if (all) return applied
  // Then the outbox's own steps (mail_migration): its tables were made by our 0001, 0004, 0006
  // and 0007 before it became a package, and its first step takes them over as they are.
  const outbox = await migrateOutbox(db.kysely, { dialect: db.dialect })
  return [...applied, ...outbox.map((name) => `@ragtime/outbox:${name}`)]
}

async function migrateApp(db: Db, all: Record<string, Migration>): Promise<string[]> {
  const steps = Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const kysely = db.kysely as unknown as Kysely<{ [TABLE]: { name: string; timestamp: string } }>
  // Read committed whatever the server's default: under repeatable read or serializable, a run
  // that waited for the lock would read the bookkeeping as it was before it waited, and apply
  // again what the other run has just applied.
  const transaction = db.dialect === 'postgres' ? kysely.transaction().setIsolationLevel('read committed') : kysely.transaction()
  return transaction.execute(async (trx) => {
    if (db.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ${`.${TABLE}`}))`.execute(trx)
    }
    await trx.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('name', 'varchar(255)', (c) => c.notNull().primaryKey())
      .addColumn('timestamp', 'varchar(255)', (c) => c.notNull())
      .execute()
    const done = new Set((await trx.selectFrom(TABLE).select('name').execute()).map((row) => row.name))
    const unknown = [...done].filter((name) => !steps.some(([step]) => step === name))
    if (unknown.length > 0) {
      throw new Error(`the database has migrations this version does not know (${unknown.join(', ')}): it was migrated by a newer Ragtime`)
    }
    const applied: string[] = []
    for (const [name, step] of steps) {
      if (done.has(name)) continue
      await step.up(trx)
      await trx.insertInto(TABLE).values({ name, timestamp: new Date().toISOString() }).execute()
      applied.push(name)
    }
    return applied
  })
}
