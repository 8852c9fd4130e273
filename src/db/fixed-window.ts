import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from './schema.ts'

export interface WindowCount {
  /** Hits in the current window, this one included. */
  readonly hits: number
  readonly windowStart: number
}

/**
 * Counts one hit under `key` in a fixed window of `windowMs`, kept in `rate_limits` so every
 * instance shares it. One statement: safe under concurrency on SQLite and PostgreSQL. Inside a
 * transaction, the count rolls back with it.
 */
export async function countInWindow(
  db: Kysely<Database> | Transaction<Database>,
  key: string,
  windowMs: number,
  now: number,
): Promise<WindowCount> {
  const expired = now - windowMs
  const row = await db
    .insertInto('rate_limits')
    .values({ key, window_start: now, hits: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        hits: sql<number>`case when rate_limits.window_start <= ${expired} then 1 else rate_limits.hits + 1 end`,
        window_start: sql<number>`case when rate_limits.window_start <= ${expired} then ${now} else rate_limits.window_start end`,
      }),
    )
    .returning(['hits', 'window_start'])
    .executeTakeFirstOrThrow()
  return { hits: Number(row.hits), windowStart: Number(row.window_start) }
}

/** Forgets the count under `key` (a lock-out lifted by a password reset). */
export async function clearWindow(db: Kysely<Database> | Transaction<Database>, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute()
}

/** Drops counters whose window ended before `before` (the longest window decides). */
export async function purgeWindows(db: Kysely<Database>, before: number): Promise<number> {
  const result = await db.deleteFrom('rate_limits').where('window_start', '<', before).executeTakeFirst()
  return Number(result.numDeletedRows)
}
