import { sql, type Transaction } from 'kysely'
import { type OutboxTables, type Db, type Millis, transaction } from './db.ts'
import { addressKey } from './address.ts'
import { statusSuppresses } from './smtp-status.ts'

/**
 * What comes back after a relay accepted a message: a bounce (a permanent failure, RFC 3464 DSN
 * with a 5.x.x status, or a provider's "bounced" event), a delay (4.x.x: noted only), or a
 * complaint (the recipient marked it as spam: RFC 5965 ARF, or a provider's event). Every source
 * (the bounce receiver, each provider's webhook) feeds this one pipeline.
 */
export interface FeedbackReport {
  readonly kind: 'bounce' | 'delay' | 'complaint'
  /** dsn, arf, postmark, resend, mailgun, ses. */
  readonly source: string
  /** The event's own id at its source (a provider's event id, a DSN's Message-ID): the same event twice counts once. */
  readonly eventId: string
  /** From the VERP envelope address: authenticated by its MAC, so preferred. */
  readonly outboxId?: number | undefined
  /** The Message-ID of our message, as the report quotes it (angle brackets optional). */
  readonly messageId?: string | undefined
  /** RFC 3463 status (`5.1.1`) when the report has one. */
  readonly status?: string | undefined
  /**
   * The address the report is about, when it says (a DSN's Final-Recipient). A report about
   * another address than the message's recipient (a forwarder's target) is ignored.
   */
  readonly recipient?: string | undefined
  /** The remote server's or provider's words: for operators, never for users. */
  readonly detail: string
}

export type FeedbackResult =
  | { readonly outcome: 'recorded'; readonly outboxId: number }
  | { readonly outcome: 'duplicate'; readonly outboxId: number }
  /** No message of ours matches: ignored (logged by the caller). */
  | { readonly outcome: 'unknown' }

/** States a later bounce moves to `bounced`: the relay took the message (or may have). */
const BOUNCEABLE = ['sent', 'sending', 'retrying'] as const

const MAX_DETAIL = 500

/**
 * Records `report` in one transaction: the feedback row, and for a bounce the message's state
 * (`bounced`) and, when the status is about the address (5.1.x, 5.2.1, or none given), the
 * suppression of its recipient; for a complaint the suppression. Only the message's own
 * recipient is ever suppressed: a report cannot name another address.
 */
export async function recordFeedback({ db }: { readonly db: Db }, report: FeedbackReport, now: Millis): Promise<FeedbackResult> {
  return transaction(db.kysely, async (trx) => {
    let query = trx.selectFrom('mail_outbox').select(['id', 'recipient', 'state'])
    if (report.outboxId !== undefined) query = query.where('id', '=', report.outboxId)
    else if (report.messageId) query = query.where('message_id', '=', bracketed(report.messageId))
    else return { outcome: 'unknown' as const }
    const message = await query.orderBy('id', 'desc').executeTakeFirst()
    if (!message) return { outcome: 'unknown' as const }
    const outboxId = Number(message.id)
    // About another address (where a forwarder sent it on): not about our recipient.
    if (report.recipient !== undefined && addressKey(report.recipient) !== addressKey(message.recipient)) return { outcome: 'unknown' as const }
    const detail = oneLine(report.detail)
    const inserted = await trx
      .insertInto('mail_feedback')
      .values({
        outbox_id: outboxId,
        kind: report.kind,
        source: report.source,
        event_key: `${report.source}:${report.eventId}`.slice(0, 300),
        recipient: message.recipient,
        status: report.status ?? null,
        detail,
        at: now,
      })
      .onConflict((oc) => oc.column('event_key').doNothing())
      .returning('id')
      .executeTakeFirst()
    if (!inserted) return { outcome: 'duplicate' as const, outboxId }

    if (report.kind === 'bounce') {
      const reason = `bounced (${report.source})${report.status ? ` ${report.status}` : ''}: ${detail}`.slice(0, MAX_DETAIL)
      await trx
        .updateTable('mail_outbox')
        .set({
          state: 'bounced',
          last_error: reason,
          last_failure: 'bounced',
          last_smtp_code: null,
          last_smtp_status: report.status ?? null,
          locked_by: null,
          locked_until: null,
          updated_at: now,
        })
        .where('id', '=', outboxId)
        .where('state', 'in', BOUNCEABLE)
        .execute()
      // Only a failure about the address itself (no such mailbox) stops mail to it.
      if (statusSuppresses(report.status)) await suppress(trx, message.recipient, reason, outboxId, report.source, now)
    } else if (report.kind === 'complaint') {
      await suppress(trx, message.recipient, `complaint (${report.source}): marked as spam`, outboxId, report.source, now)
    }
    return { outcome: 'recorded' as const, outboxId }
  })
}

async function suppress(trx: Transaction<OutboxTables>, address: string, reason: string, outboxId: number, source: string, now: Millis) {
  await trx
    .insertInto('mail_suppression')
    .values({ address: addressKey(address), reason, outbox_id: outboxId, created_at: now, source })
    .onConflict((oc) => oc.column('address').doNothing())
    .execute()
}

export interface FeedbackSummary {
  readonly bounces: number
  readonly complaints: number
  readonly delays: number
  /** Complaints / messages sent over the last `windowMs`; null when nothing was sent. */
  readonly complaintRate: number | null
  readonly windowMs: number
}

/** Gmail's published ceiling for the spam rate senders must stay under. */
export const COMPLAINT_RATE_WARNING = 0.003

/** Totals since the start, and the complaint rate over the last 7 days (as Gmail's Postmaster Tools count). */
export async function feedbackSummary({ db }: { readonly db: Db }, now: Millis, windowMs = 7 * 86_400_000): Promise<FeedbackSummary> {
  const since = now - windowMs
  const [totals, recent, sent] = await Promise.all([
    db.kysely.selectFrom('mail_feedback').select(['kind', sql<number>`count(*)`.as('n')]).groupBy('kind').execute(),
    db.kysely
      .selectFrom('mail_feedback')
      .select(sql<number>`count(*)`.as('n'))
      .where('kind', '=', 'complaint')
      .where('at', '>=', since)
      .executeTakeFirstOrThrow(),
    db.kysely
      .selectFrom('mail_outbox')
      .select(sql<number>`count(*)`.as('n'))
      .where('sent_at', '>=', since)
      .executeTakeFirstOrThrow(),
  ])
  const count = (kind: string) => Number(totals.find((t) => t.kind === kind)?.n ?? 0)
  const sentCount = Number(sent.n)
  return {
    bounces: count('bounce'),
    complaints: count('complaint'),
    delays: count('delay'),
    complaintRate: sentCount === 0 ? null : Number(recent.n) / sentCount,
    windowMs,
  }
}

function bracketed(messageId: string): string {
  const id = messageId.trim().replace(/^<|>$/g, '')
  return `<${id}>`
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t\0]+/g, ' ').replace(/\s{2,}/g, ' ').trim().slice(0, MAX_DETAIL)
}
