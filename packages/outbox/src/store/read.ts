import { sql } from 'kysely'
import { addressKey } from '../address.ts'
import type { Millis } from '../db.ts'
import { MAIL_STATES, type MailState, UNFINISHED_STATES } from '../states.ts'
import { literals, outboxThrough } from './indexed.ts'
import type { LastFailure, OutboxDb, OutboxRow } from './types.ts'

/** How many messages are in each state. */
export async function countByState(db: OutboxDb): Promise<Record<MailState, number>> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute()
  const counts = Object.fromEntries(MAIL_STATES.map((s) => [s, 0])) as Record<MailState, number>
  for (const row of rows) counts[row.state as MailState] = Number(row.n)
  return counts
}

/**
 * When the oldest message still to be delivered was enqueued, or null when none waits: the first
 * entry of the partial index `mail_outbox_waiting`, named on SQLite (`waitingIndex`; see
 * store/indexed.ts; the states in the order of the index's own WHERE).
 */
export async function oldestWaitingSince(db: OutboxDb, waitingIndex?: string): Promise<Millis | null> {
  const { rows } = await sql<{ oldest: number | null }>`select min(created_at) as oldest from ${outboxThrough(waitingIndex)}
    where state in (${literals(UNFINISHED_STATES)})`.execute(db)
  const oldest = rows[0]?.oldest
  return oldest == null ? null : Number(oldest)
}

/** The newest messages first, of one state if given. */
export async function listMail(db: OutboxDb, { state, limit }: { state?: MailState; limit: number }): Promise<OutboxRow[]> {
  let query = db.selectFrom('mail_outbox').selectAll().orderBy('id', 'desc').limit(limit)
  if (state) query = query.where('state', '=', state)
  return (await query.execute()).map(toRow)
}

export async function getMail(db: OutboxDb, id: number): Promise<OutboxRow | undefined> {
  const row = await db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst()
  return row && toRow(row)
}

/**
 * The latest messages whose last attempt failed (retrying, dead, bounced, expired), newest first:
 * the end of the partial index `mail_outbox_failing`, named on SQLite (`failingIndex`).
 */
export async function failingMail(db: OutboxDb, limit: number, failingIndex?: string): Promise<OutboxRow[]> {
  const { rows } = await sql<Parameters<typeof toRow>[0]>`select * from ${outboxThrough(failingIndex)}
    where state in (${literals(FAILING_STATES)}) order by updated_at desc limit ${limit}`.execute(db)
  return rows.map(toRow)
}

/** The states of the failure list, in the order of its index's WHERE (migration 0003). */
const FAILING_STATES = ['retrying', 'dead', 'bounced', 'expired'] as const

/** The stored messages of `ids`, read just before sending so a worker holds few at once. */
export async function readBodies(db: OutboxDb, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('mail_body').select(['outbox_id', 'raw']).where('outbox_id', 'in', ids).execute()
  return new Map(rows.map((row) => [Number(row.outbox_id), row.raw]))
}

export async function isSuppressed(db: OutboxDb, address: string): Promise<boolean> {
  const row = await db.selectFrom('mail_suppression').select('address').where('address', '=', addressKey(address)).executeTakeFirst()
  return row !== undefined
}

function toRow(r: {
  id: number
  state: string
  template: string
  recipient: string
  subject: string
  message_id: string
  priority: number
  attempts: number
  last_error: string | null
  last_failure: string | null
  last_smtp_code: number | null
  last_smtp_status: string | null
  last_response: string | null
  created_at: number
  run_at: number
  sent_at: number | null
  updated_at: number
}): OutboxRow {
  return {
    id: Number(r.id),
    state: r.state as MailState,
    template: r.template,
    recipient: r.recipient,
    subject: r.subject,
    messageId: r.message_id,
    priority: r.priority,
    attempts: r.attempts,
    lastError: r.last_error,
    lastFailure:
      r.last_failure === null
        ? null
        : { kind: r.last_failure as LastFailure['kind'], smtpCode: r.last_smtp_code === null ? null : Number(r.last_smtp_code), smtpStatus: r.last_smtp_status },
    lastResponse: r.last_response,
    createdAt: Number(r.created_at),
    runAt: Number(r.run_at),
    sentAt: r.sent_at == null ? null : Number(r.sent_at),
    updatedAt: Number(r.updated_at),
  }
}
