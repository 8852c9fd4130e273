import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../db.ts'
import { checkTablePrefix, DEFAULT_TABLE_PREFIX } from '../tables.ts'
import { dialectOf } from '../dialect.ts'
import * as m0001 from './0001-tables.ts'
import * as m0002 from './0002-failure-columns.ts'
import * as m0003 from './0003-status-indexes.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- steps build DDL by name
type Step = { up(db: Kysely<any>, dialect: Dialect, prefix: string): Promise<void> }

/** Numbered steps, applied in order. Never edit a step that has shipped: add the next one. */
const STEPS: readonly (readonly [string, Step])[] = [
  ['0001-tables', m0001],
  ['0002-failure-columns', m0002],
  ['0003-status-indexes', m0003],
]

export interface MigrateOptions {
  /** Default `mail_`: tables `mail_outbox`, `mail_body`, … and `mail_migration`, which records the steps. */
  readonly tablePrefix?: string
  /** Found from the Kysely dialect when unset. */
  readonly dialect?: Dialect
}

/**
 * Creates or updates the outbox's tables (and only those: every name starts with the prefix) in
 * one transaction; returns the names of the steps applied now. Concurrent runs take turns: on
 * PostgreSQL behind a transaction-scoped advisory lock, on SQLite behind the write lock that the
 * first statement (a write) takes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any app's database
export async function migrate(db: Kysely<any>, options: MigrateOptions = {}): Promise<string[]> {
  const prefix = checkTablePrefix(options.tablePrefix ?? DEFAULT_TABLE_PREFIX)
  const dialect = options.dialect ?? dialectOf(db)
  const table = `${prefix}migration`
  const kysely = db as Kysely<Record<string, { name: string; applied_at: string }>>
  // Read committed whatever the server's default: under repeatable read, a run that waited for
  // the lock would read the bookkeeping as it was before it waited, and apply a step again.
  const transaction = dialect === 'postgres' ? kysely.transaction().setIsolationLevel('read committed') : kysely.transaction()
  return transaction.execute(async (trx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ${`.${table}`}))`.execute(trx)
    await trx.schema
      .createTable(table)
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute()
    const done = new Set((await trx.selectFrom(table).select('name').execute()).map((row) => row.name))
    const unknown = [...done].filter((name) => !STEPS.some(([step]) => step === name))
    if (unknown.length > 0) {
      throw new Error(`${table} lists steps this version of @ragtime/outbox does not know (${unknown.join(', ')}): a newer version migrated it`)
    }
    const applied: string[] = []
    for (const [name, step] of STEPS) {
      if (done.has(name)) continue
      await step.up(trx, dialect, prefix)
      await trx.insertInto(table).values({ name, applied_at: new Date().toISOString() }).execute()
      applied.push(name)
    }
    return applied
  })
}
