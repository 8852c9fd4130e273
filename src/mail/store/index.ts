import { type ExpressionBuilder, sql, type Transaction } from 'kysely'
import type { Database, Db, Millis } from '../../db/index.ts'
import { addressKey } from '../../lib/email-address.ts'
import { LIVE_STATES, MAIL_STATES, type MailState, WAITING_STATES } from '../states.ts'
import { postgresStore } from './postgres.ts'
import { sqliteStore } from './sqlite.ts'
import type { DialectStore, NewMail, OutboxRow } from './types.ts'

export type { ClaimedMail, NewMail, OutboxRow, Outcome } from './types.ts'

/**
 * The queries of enqueue and delivery (the operators' are in operations.ts). Only `claim`,
 * `record`, `notify` and `subscribe` depend on the dialect.
 */
export interface OutboxStore extends DialectStore {
  /** `created` is false when a live message with the same dedupe key is returned instead. */
  insert(trx: Transaction<Database>, mail: NewMail): Promise<{ id: number; state: MailState; created: boolean }>
  /** The envelope sender of a message just inserted (its VERP address, which needs its id). */
  setEnvelopeFrom(trx: Transaction<Database>, id: number, envelopeFrom: string): Promise<void>
  renew(workerId: string, leaseUntil: Millis, now: Millis): Promise<void>
  /**
   * Gives claimed mail back unattempted: due again at once, or at `runAt` (by id) for mail that
   * flow control holds back (a paused domain, a domain over its quota).
   */
  release(workerId: string, ids: readonly number[], now: Millis, runAt?: ReadonlyMap<number, Millis>): Promise<void>
  reclaimExpired(now: Millis): Promise<number>
  counts(): Promise<Record<MailState, number>>
  oldestWaitingSince(): Promise<Millis | null>
  list(filter: { state?: MailState; limit: number }): Promise<OutboxRow[]>
  get(id: number): Promise<OutboxRow | undefined>
  /** The latest messages that failed their last attempt (retrying or dead), newest first. */
  failing(limit: number): Promise<OutboxRow[]>
  isSuppressed(address: string): Promise<boolean>
  /** The stored messages of `ids`, read just before sending so a worker holds few at once. */
  bodies(ids: readonly number[]): Promise<Map<number, string>>
}

export function createOutboxStore(db: Db): OutboxStore {
  const k = db.kysely
  const dialect = db.dialect === 'postgres' ? postgresStore(k, db.postgresUrl ?? '') : sqliteStore(k)

  return {
    ...dialect,

    async setEnvelopeFrom(trx, id, envelopeFrom) {
      await trx.updateTable('mail_outbox').set({ envelope_from: envelopeFrom }).where('id', '=', id).execute()
    },

    async insert(trx, mail) {
      const suppressed = await trx
        .selectFrom('mail_suppression')
        .select('address')
        .where('address', '=', addressKey(mail.recipient))
        .executeTakeFirst()
      const state: MailState = suppressed ? 'suppressed' : 'queued'
      const inserted = await trx
        .insertInto('mail_outbox')
        .values({
          state,
          priority: mail.priority,
          template: mail.template,
          recipient: mail.recipient,
          subject: mail.subject,
          message_id: mail.messageId,
          envelope_from: mail.envelopeFrom,
          dedupe_key: mail.dedupeKey,
          body_expires_at: mail.bodyExpiresAt,
          expires_at: mail.expiresAt,
          created_at: mail.now,
          run_at: mail.runAt,
          updated_at: mail.now,
        })
        .onConflict((oc) =>
          // The index predicate must be spelled with literals to match the partial index.
          oc.column('dedupe_key').where(sql.ref('state'), 'in', LIVE_STATES.map((s) => sql.lit(s))).doNothing(),
        )
        .returning('id')
        .executeTakeFirst()
      if (inserted) {
        await trx.insertInto('mail_body').values({ outbox_id: inserted.id, raw: mail.raw }).execute()
        return { id: inserted.id, state, created: true }
      }
      // The key is taken by a live message: that message is the answer.
      const existing = await trx
        .selectFrom('mail_outbox')
        .select(['id', 'state'])
        .where('dedupe_key', '=', mail.dedupeKey)
        .where('state', 'in', LIVE_STATES)
        .executeTakeFirstOrThrow()
      return { id: existing.id, state: existing.state as MailState, created: false }
    },

    async renew(workerId, leaseUntil, now) {
      await k
        .updateTable('mail_outbox')
        .set({ locked_until: leaseUntil, updated_at: now })
        .where('state', '=', 'sending')
        .where('locked_by', '=', workerId)
        .execute()
    },

    async release(workerId, ids, now, runAt) {
      if (ids.length === 0) return
      // The claim counted an attempt that never happened: give it back.
      await k
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
    },

    async reclaimExpired(now) {
      const result = await k
        .updateTable('mail_outbox')
        .set({
          state: 'retrying',
          locked_by: null,
          locked_until: null,
          run_at: now,
          updated_at: now,
          last_error: 'lease expired: the worker holding this message stopped before recording it',
        })
        .where('state', '=', 'sending')
        .where('locked_until', '<', now)
        .executeTakeFirst()
      return Number(result.numUpdatedRows)
    },

    async counts() {
      const rows = await k
        .selectFrom('mail_outbox')
        .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('state')
        .execute()
      const counts = Object.fromEntries(MAIL_STATES.map((s) => [s, 0])) as Record<MailState, number>
      for (const row of rows) counts[row.state as MailState] = Number(row.n)
      return counts
    },

    async oldestWaitingSince() {
      const row = await k
        .selectFrom('mail_outbox')
        .select((eb) => eb.fn.min<number | null>('created_at').as('oldest'))
        .where('state', 'in', [...WAITING_STATES, 'sending'])
        .executeTakeFirst()
      return row?.oldest == null ? null : Number(row.oldest)
    },

    async list({ state, limit }) {
      let query = k.selectFrom('mail_outbox').selectAll().orderBy('id', 'desc').limit(limit)
      if (state) query = query.where('state', '=', state)
      return (await query.execute()).map(toRow)
    },

    async get(id) {
      const row = await k.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toRow(row)
    },

    async failing(limit) {
      const rows = await k
        .selectFrom('mail_outbox')
        .selectAll()
        .where('state', 'in', ['retrying', 'dead', 'bounced', 'expired'])
        .orderBy('updated_at', 'desc')
        .limit(limit)
        .execute()
      return rows.map(toRow)
    },

    async bodies(ids) {
      if (ids.length === 0) return new Map()
      const rows = await k.selectFrom('mail_body').select(['outbox_id', 'raw']).where('outbox_id', 'in', ids).execute()
      return new Map(rows.map((row) => [Number(row.outbox_id), row.raw]))
    },

    async isSuppressed(address) {
      const row = await k
        .selectFrom('mail_suppression')
        .select('address')
        .where('address', '=', addressKey(address))
        .executeTakeFirst()
      return row !== undefined
    },
  }
}

/** `run_at` for released mail: `now`, or each id's own time. */
function runAtCase(eb: ExpressionBuilder<Database, 'mail_outbox'>, ids: readonly number[], now: Millis, runAt: ReadonlyMap<number, Millis> | undefined) {
  const timed = runAt ? ids.filter((id) => runAt.has(id)) : []
  if (!runAt || timed.length === 0) return eb.val(now)
  let cases = eb.case().when('id', '=', timed[0]!).then(runAt.get(timed[0]!)!)
  for (const id of timed.slice(1)) cases = cases.when('id', '=', id).then(runAt.get(id)!)
  return cases.else(now).end()
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
    lastResponse: r.last_response,
    createdAt: Number(r.created_at),
    runAt: Number(r.run_at),
    sentAt: r.sent_at == null ? null : Number(r.sent_at),
    updatedAt: Number(r.updated_at),
  }
}
