import type { ExpressionBuilder } from 'kysely'
import type { Millis, OutboxTables } from '../db.ts'
import type { OutboxDb } from './types.ts'

/** Extends `workerId`'s lease on everything it holds. */
export async function renewLeases(db: OutboxDb, workerId: string, leaseUntil: Millis, now: Millis): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ locked_until: leaseUntil, updated_at: now })
    .where('state', '=', 'sending')
    .where('locked_by', '=', workerId)
    .execute()
}

/**
 * Gives claimed mail back unattempted: due again at once, or at `runAt` (by id) for mail that
 * flow control holds back (a paused domain, a domain over its quota).
 */
export async function releaseClaims(
  db: OutboxDb,
  workerId: string,
  ids: readonly number[],
  now: Millis,
  runAt?: ReadonlyMap<number, Millis>,
): Promise<void> {
  if (ids.length === 0) return
  // The claim counted an attempt that never happened: give it back.
  await db
    .updateTable('mail_outbox')
    .set((eb) => ({
      state: eb.case().when('attempts', '<=', 1).then('queued').else('retrying').end(),
      attempts: eb('attempts', '-', 1),
      locked_by: null,
      locked_until: null,
      run_at: runAtCase(eb, ids, now, runAt),
      updated_at: now,
    }))
    .where('id', 'in', ids)
    .where('state', '=', 'sending')
    .where('locked_by', '=', workerId)
    .execute()
}

/** Claims whose lease ran out (their worker died): due again at once. Returns how many. */
export async function reclaimExpired(db: OutboxDb, now: Millis): Promise<number> {
  const result = await db
    .updateTable('mail_outbox')
    .set({
      state: 'retrying',
      locked_by: null,
      locked_until: null,
      run_at: now,
      updated_at: now,
      last_error: 'lease expired: the worker holding this message stopped before recording it',
      // Its outcome is unknown: retried as a transient failure, with no reply to show.
      last_failure: 'transient',
      last_smtp_code: null,
      last_smtp_status: null,
    })
    .where('state', '=', 'sending')
    .where('locked_until', '<', now)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** `run_at` for released mail: `now`, or each id's own time. */
function runAtCase(eb: ExpressionBuilder<OutboxTables, 'mail_outbox'>, ids: readonly number[], now: Millis, runAt: ReadonlyMap<number, Millis> | undefined) {
  const timed = runAt ? ids.filter((id) => runAt.has(id)) : []
  if (!runAt || timed.length === 0) return eb.val(now)
  let cases = eb.case().when('id', '=', timed[0]!).then(runAt.get(timed[0]!)!)
  for (const id of timed.slice(1)) cases = cases.when('id', '=', id).then(runAt.get(id)!)
  return cases.else(now).end()
}
