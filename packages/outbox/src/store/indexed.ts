import { sql } from 'kysely'
import type { Db } from '../db.ts'
import { DEFAULT_TABLE_PREFIX } from '../tables.ts'

/**
 * SQLite's planner has no statistics. For the worker's claim, retention's purge, the oldest
 * waiting message and the failure list it looked the rows up by state in `mail_outbox_state` and
 * read (and mostly sorted) every waiting, sent or failed message, where a partial index reads the
 * few it needs in order: a claim took 30 ms with 100,000 queued, against 1 ms. So on SQLite those
 * queries name their index (`INDEXED BY`, which Kysely cannot write: they are raw SQL), and spell
 * the index's own WHERE terms as literals, in its order: a partial index serves only a WHERE that
 * implies its own, and a bound parameter implies nothing. (For the dedupe look-ups the literals
 * alone lead SQLite to the unique index.) PostgreSQL's planner finds the indexes with its
 * statistics.
 */
export type PartialIndex = 'outbox_due' | 'outbox_body_kept' | 'outbox_waiting' | 'outbox_failing'

/** The name (with the table prefix) of `index` for queries to name on SQLite; undefined on PostgreSQL. */
export function sqliteIndex(db: Pick<Db, 'dialect' | 'tablePrefix'>, index: PartialIndex): string | undefined {
  return db.dialect === 'sqlite' ? `${db.tablePrefix ?? DEFAULT_TABLE_PREFIX}${index}` : undefined
}

/** States (or any words) as a list of SQL literals, for a WHERE that a partial index must match. */
export function literals(values: readonly string[]) {
  return sql.join(values.map((value) => sql.lit(value)))
}

/** `mail_outbox` in a FROM clause, read through `index` when one is given. */
export function outboxThrough(index: string | undefined) {
  return index === undefined ? sql.table('mail_outbox') : sql`${sql.table('mail_outbox')} indexed by ${sql.id(index)}`
}
