import { sql } from 'kysely'
import { WAITING_STATES } from '../states.ts'
import { literals, outboxThrough } from './indexed.ts'
import type { ClaimedMail, OutboxDb } from './types.ts'

/**
 * Takes up to `limit` due messages for `workerId` in one UPDATE over the due rows. With
 * `skipLocked` (PostgreSQL) the due rows are locked `FOR UPDATE SKIP LOCKED`, so concurrent
 * workers take disjoint sets without waiting on each other; SQLite has one writer and needs none.
 * `maxPriority` (the high lane) takes only messages of that priority or higher (a lower number):
 * the partial index `mail_outbox_due` (priority, run_at, id) is read from its start, so a backlog
 * of notices behind it costs nothing and an empty lane is one index probe.
 *
 * On SQLite the claim names that index (`dueIndex`; see store/indexed.ts).
 */
export async function claimDue(
  db: OutboxDb,
  {
    workerId,
    now,
    leaseUntil,
    limit,
    skipLocked,
    maxPriority,
    dueIndex,
  }: {
    workerId: string
    now: number
    leaseUntil: number
    limit: number
    skipLocked: boolean
    maxPriority?: number | undefined
    /** SQLite: the due index's name (with the table prefix), for `INDEXED BY`. */
    dueIndex?: string | undefined
  },
): Promise<ClaimedMail[]> {
  const lane = maxPriority === undefined ? sql`` : sql`and priority <= ${maxPriority}`
  const due = sql<number>`(select id from ${outboxThrough(dueIndex)}
    where state in (${literals(WAITING_STATES)}) and run_at <= ${now} ${lane}
    order by priority, run_at, id limit ${limit} ${skipLocked ? sql`for update skip locked` : sql``})`
  const rows = await db
    .updateTable('mail_outbox')
    .set((eb) => ({
      state: 'sending',
      locked_by: workerId,
      locked_until: leaseUntil,
      attempts: eb('attempts', '+', 1),
      first_attempt_at: sql<number>`coalesce(first_attempt_at, ${now})`,
      updated_at: now,
    }))
    .where('id', 'in', due)
    .returning(['id', 'template', 'priority', 'run_at', 'recipient', 'envelope_from', 'attempts', 'first_attempt_at', 'created_at', 'expires_at'])
    .execute()
  // RETURNING has no order: restore the claim order.
  rows.sort((a, b) => a.priority - b.priority || a.run_at - b.run_at || a.id - b.id)
  return rows.map(
    (r): ClaimedMail => ({
      id: Number(r.id),
      template: r.template,
      priority: r.priority,
      recipient: r.recipient,
      envelopeFrom: r.envelope_from,
      attempts: r.attempts,
      firstAttemptAt: r.first_attempt_at == null ? now : Number(r.first_attempt_at),
      createdAt: Number(r.created_at),
      expiresAt: r.expires_at == null ? null : Number(r.expires_at),
    }),
  )
}
