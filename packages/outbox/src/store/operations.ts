import { sql } from 'kysely'
import type { Millis } from '../db.ts'
import { addressKey } from '../address.ts'
import { LIVE_STATES, UNFINISHED_STATES, WAITING_STATES } from '../states.ts'
import { EXPIRED } from './record.ts'
import { outboxThrough } from './indexed.ts'
import type { OutboxDb } from './types.ts'

/** The queries behind the operations (dashboards, command lines); the same SQL on both databases. */

/** Sent and failed attempts per minute since `since`, oldest first; minutes with neither are left out. */
export async function activityPerMinute(db: OutboxDb, since: Millis): Promise<{ minute: number; sent: number; failed: number }[]> {
  const minute = (column: string) => sql<number>`${sql.ref(column)} / 60000`
  const [sent, failed] = await Promise.all([
    db
      .selectFrom('mail_outbox')
      .select([minute('sent_at').as('minute'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('sent_at', '>=', since)
      .groupBy(minute('sent_at'))
      .execute(),
    db
      .selectFrom('mail_failures')
      .select([minute('at').as('minute'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('at', '>=', since)
      .groupBy(minute('at'))
      .execute(),
  ])
  const byMinute = new Map<number, { minute: number; sent: number; failed: number }>()
  const bucket = (m: number) => byMinute.get(m) ?? byMinute.set(m, { minute: m, sent: 0, failed: 0 }).get(m)!
  for (const row of sent) bucket(Number(row.minute)).sent = Number(row.n)
  for (const row of failed) bucket(Number(row.minute)).failed = Number(row.n)
  return [...byMinute.values()].sort((a, b) => a.minute - b.minute)
}

export interface Suppression {
  readonly address: string
  readonly reason: string
  readonly outboxId: number | null
  readonly createdAt: Millis
  /** smtp, dsn, arf, or a provider's webhook. */
  readonly source: string
}

/** A bounce, delay or complaint that came back after the relay accepted the message. */
export interface FeedbackEntry {
  readonly outboxId: number
  readonly kind: string
  readonly source: string
  readonly recipient: string
  readonly status: string | null
  readonly detail: string
  readonly at: Millis
}

export async function listFeedback(db: OutboxDb, limit: number): Promise<FeedbackEntry[]> {
  const rows = await db.selectFrom('mail_feedback').selectAll().orderBy('id', 'desc').limit(limit).execute()
  return rows.map((r) => ({
    outboxId: Number(r.outbox_id),
    kind: r.kind,
    source: r.source,
    recipient: r.recipient,
    status: r.status,
    detail: r.detail,
    at: Number(r.at),
  }))
}

export async function listSuppressions(db: OutboxDb, limit: number): Promise<Suppression[]> {
  const rows = await db.selectFrom('mail_suppression').selectAll().orderBy('created_at', 'desc').limit(limit).execute()
  return rows.map((r) => ({
    address: r.address,
    reason: r.reason,
    outboxId: r.outbox_id == null ? null : Number(r.outbox_id),
    createdAt: Number(r.created_at),
    source: r.source,
  }))
}

export async function countSuppressions(db: OutboxDb): Promise<number> {
  const row = await db.selectFrom('mail_suppression').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
  return Number(row?.n ?? 0)
}

export async function unsuppress(db: OutboxDb, address: string): Promise<number> {
  const result = await db.deleteFrom('mail_suppression').where('address', '=', addressKey(address)).executeTakeFirst()
  return Number(result.numDeletedRows)
}

/**
 * Sends again now: one `dead`, `retrying`, `cancelled` or `suppressed` message, or every `dead`
 * one. The give-up clock restarts: an operator asked for another day of trying. Three kinds are
 * left alone: mail to an address still on the suppression list (remove it from the list first),
 * mail whose dedupe key a newer live message holds (that one is the mail to send), and mail whose
 * stored message was purged (it expired: there is nothing left to send).
 */
export async function retry(db: OutboxDb, filter: { id: number } | { state: 'dead' }, now: Millis): Promise<number> {
  let query = db
    .updateTable('mail_outbox')
    .set({ state: 'queued', run_at: now, first_attempt_at: null, locked_by: null, locked_until: null, updated_at: now })
    .where('body_purged_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('mail_suppression').select('address').whereRef('mail_suppression.address', '=', sql<string>`lower(${sql.ref('mail_outbox.recipient')})`))),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('mail_outbox as live')
            .select('live.id')
            .whereRef('live.dedupe_key', '=', 'mail_outbox.dedupe_key')
            .whereRef('live.id', '<>', 'mail_outbox.id')
            // Literals: SQLite then reads the dedupe index, not every sent message, per row.
            .where('live.state', 'in', LIVE_STATES.map((s) => sql.lit(s))),
        ),
      ),
    )
  query = 'id' in filter
    ? query.where('id', '=', filter.id).where('state', 'in', ['dead', 'retrying', 'cancelled', 'suppressed'])
    : query.where('state', '=', 'dead')
  const result = await query.executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** Messages that have not been sent yet will not be: queued or retrying → cancelled. */
export async function cancel(db: OutboxDb, ids: readonly number[], now: Millis): Promise<number> {
  if (ids.length === 0) return 0
  const result = await db
    .updateTable('mail_outbox')
    .set({ state: 'cancelled', updated_at: now, locked_by: null, locked_until: null })
    .where('id', 'in', ids)
    .where('state', 'in', ['queued', 'retrying'])
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/**
 * Removes the stored message of up to `limit` sent mails sent before `sentBefore`; their rows
 * stay, marked `body_purged_at`. Returns how many were purged (call again while it is `limit`).
 * Rows are marked first and only the bodies of the rows this call marked are deleted, so sweeps
 * running at once in several workers split the work instead of repeating it. The look-up reads
 * the partial index `mail_outbox_body_kept` (sent mail with its body), named on SQLite
 * (`keptIndex`; see store/indexed.ts): however long the history, it reads only what it purges.
 */
export async function purgeSentBodies(db: OutboxDb, sentBefore: Millis, now: Millis, limit: number, keptIndex?: string): Promise<number> {
  const due = sql<number>`(select id from ${outboxThrough(keptIndex)}
    where state = ${sql.lit('sent')} and body_purged_at is null and sent_at < ${sentBefore}
    order by sent_at limit ${limit})`
  const marked = await db
    .updateTable('mail_outbox')
    .set({ body_purged_at: now })
    .where('id', 'in', due)
    .where('body_purged_at', 'is', null)
    .returning('id')
    .execute()
  const ids = marked.map((r) => Number(r.id))
  if (ids.length > 0) await db.deleteFrom('mail_body').where('outbox_id', 'in', ids).execute()
  return ids.length
}

/**
 * Removes the stored message of up to `limit` finished mails (sent, dead, cancelled, suppressed)
 * whose `body_expires_at` is past; their rows stay, marked `body_purged_at`. Mail that may still
 * be sent (queued, sending, retrying) keeps its body. Returns how many were purged (call again
 * while it is `limit`). The look-up reads the partial index `mail_outbox_body_expires` outside
 * any transaction, so a sweep that finds nothing takes no write lock; the rows are then marked,
 * re-checking that each is still finished and unpurged (an operator's retry, or another sweep,
 * may have come first), and only the bodies of the rows this call marked are deleted.
 */
export async function purgeExpiredBodies(db: OutboxDb, now: Millis, limit: number): Promise<number> {
  const due = await expiredBodiesDue(db, now, limit).execute()
  if (due.length === 0) return 0
  const ids = due.map((r) => Number(r.id))
  return db.transaction().execute(async (trx) => {
    const marked = await trx
      .updateTable('mail_outbox')
      .set({ body_purged_at: now })
      .where('id', 'in', ids)
      .where('body_purged_at', 'is', null)
      .where('state', 'not in', UNFINISHED_STATES)
      .returning('id')
      .execute()
    const purged = marked.map((r) => Number(r.id))
    if (purged.length > 0) await trx.deleteFrom('mail_body').where('outbox_id', 'in', purged).execute()
    return purged.length
  })
}

/**
 * Waiting mail whose deadline has passed ends `expired`, `limit` at a time (the worker also
 * checks each message's deadline when it takes it; this catches mail no worker reaches in time).
 */
export async function expireOverdue(db: OutboxDb, now: Millis, limit: number): Promise<number> {
  const due = db
    .selectFrom('mail_outbox')
    .select('id')
    // Reads the partial index `mail_outbox_deadline` (state, expires_at): two ranges, one per state.
    .where('expires_at', 'is not', null)
    .where('state', 'in', WAITING_STATES)
    .where('expires_at', '<=', now)
    .limit(limit)
  const expired = await db
    .updateTable('mail_outbox')
    .set({ state: 'expired', ...EXPIRED, updated_at: now })
    .where('id', 'in', due)
    .where('state', 'in', WAITING_STATES)
    .returning('id')
    .execute()
  return expired.length
}

/** The look-up of {@link purgeExpiredBodies}: finished mail whose body expired, oldest expiry first. */
export function expiredBodiesDue(db: OutboxDb, now: Millis, limit: number) {
  return (
    db
      .selectFrom('mail_outbox')
      .select('id')
      // Both terms of the partial index's predicate, spelt as it is, so that it can be used.
      .where('body_expires_at', 'is not', null)
      .where('body_purged_at', 'is', null)
      .where('body_expires_at', '<=', now)
      // Finished, spelt "not unfinished": the same rows, but an IN list would lead SQLite's
      // planner (which has no statistics) to the state index, reading every sent message, rather
      // than to the partial index on body_expires_at.
      .where('state', 'not in', UNFINISHED_STATES)
      .orderBy('body_expires_at')
      .limit(limit)
  )
}

/** The failure log only feeds the last hour's chart: what is older than `before` goes. */
export async function pruneFailureLog(db: OutboxDb, before: Millis): Promise<void> {
  await db.deleteFrom('mail_failures').where('at', '<', before).execute()
}

export interface AuditEntry {
  readonly at: Millis
  readonly actor: string
  readonly action: string
  readonly target: string | null
  readonly affected: number
}

export async function recordAudit(db: OutboxDb, entry: AuditEntry): Promise<void> {
  await db.insertInto('mail_audit').values(entry).execute()
}

export async function listAudit(db: OutboxDb, limit: number): Promise<AuditEntry[]> {
  const rows = await db.selectFrom('mail_audit').selectAll().orderBy('id', 'desc').limit(limit).execute()
  return rows.map((r) => ({ at: Number(r.at), actor: r.actor, action: r.action, target: r.target, affected: Number(r.affected) }))
}
