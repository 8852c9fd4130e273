import type { Transaction } from 'kysely'
import { afterCommit, type OutboxTables, transaction } from './db.ts'
import { formatDuration } from './duration.ts'
import type { Outbox, OutboxStatus } from './outbox.ts'
import type { OutboxRow } from './store/index.ts'
import { sqliteIndex } from './store/indexed.ts'
import {
  activityPerMinute,
  type AuditEntry,
  cancel,
  countSuppressions,
  listAudit,
  listSuppressions,
  pruneFailureLog,
  expireOverdue,
  type FeedbackEntry,
  listFeedback,
  purgeExpiredBodies,
  purgeSentBodies,
  recordAudit,
  retry,
  type Suppression,
  unsuppress,
} from './store/operations.ts'
import { type FeedbackSummary, feedbackSummary } from './feedback.ts'

export type { AuditEntry, FeedbackEntry, Suppression } from './store/operations.ts'

/** What an operator can do to the outbox; each is recorded in the audit log. */
export type MailAction =
  | { readonly action: 'retry'; readonly id: number }
  | { readonly action: 'retry-dead' }
  | { readonly action: 'cancel'; readonly id: number }
  | { readonly action: 'unsuppress'; readonly address: string }

export interface MinuteActivity {
  /** Start of the minute, ms since the epoch. */
  readonly at: number
  readonly sent: number
  readonly failed: number
}

/** Everything an operator's overview shows, read in one go. */
export interface MailOverview extends OutboxStatus {
  /** Messages still to be delivered: queued, sending and retrying. */
  readonly queueDepth: number
  /** Sixty entries, one per minute of the last hour, oldest first. */
  readonly lastHour: readonly MinuteActivity[]
  readonly sentLastHour: number
  /** Failed attempts (a message retried three times counts three). */
  readonly failedLastHour: number
  /** The latest messages waiting for their first attempt, newest first. */
  readonly queued: readonly OutboxRow[]
  /** The latest messages whose last attempt failed (retrying or dead), newest first. */
  readonly failing: readonly OutboxRow[]
  readonly suppressions: readonly Suppression[]
  readonly suppressionCount: number
  /** Bounces, delays and complaints reported after sending, and the complaint rate. */
  readonly feedback: FeedbackSummary
  readonly recentFeedback: readonly FeedbackEntry[]
  readonly audit: readonly AuditEntry[]
}

export interface MailOperations {
  overview(options?: { rows?: number; suppressions?: number; audit?: number }): Promise<MailOverview>
  /**
   * Does `action` and records who did it in the same transaction; returns how many messages or
   * addresses changed. 0 when it does not apply: a retry of a message that is not dead,
   * retrying, cancelled or suppressed, whose address is suppressed, whose newer copy is live, or
   * whose stored message was purged; a cancel of one that is not queued or retrying; an
   * unsuppress of an address not on the list.
   */
  perform(actor: string, action: MailAction): Promise<number>
  /**
   * Removes the stored message of mail sent longer than `retentionMs` ago (rows stay), in
   * batches, and failure-log entries as old; records it when anything was purged; returns the count.
   */
  purgeExpired(actor: string, retentionMs: number): Promise<number>
  /**
   * Removes the stored message of finished mail (sent, dead, cancelled, suppressed) whose
   * `bodyExpiresAt` has passed (rows stay), in batches; records it when anything was purged;
   * returns the count. Mail still waiting to be sent keeps its body.
   */
  purgeExpiredBodies(actor: string): Promise<number>
  /** Waiting mail past its deadline ends `expired` (EnqueueOptions.deadline); returns the count. */
  expireOverdue(): Promise<number>
}

/** How the audit log names what {@link MailOperations.purgeExpiredBodies} purged. */
export const EXPIRED_BODIES_TARGET = 'finished mail past its body expiry'

const MINUTE = 60_000
const PURGE_BATCH = 1_000

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- operations work on any app's templates
export function mailOperations(outbox: Outbox<any>): MailOperations {
  const { clock, store, signals, db } = outbox

  async function run(trx: Transaction<OutboxTables>, action: MailAction, now: number): Promise<number> {
    switch (action.action) {
      case 'retry':
        return retry(trx, { id: action.id }, now)
      case 'retry-dead':
        return retry(trx, { state: 'dead' }, now)
      case 'cancel':
        return cancel(trx, [action.id], now)
      case 'unsuppress':
        return unsuppress(trx, action.address)
    }
  }

  function targetOf(action: MailAction): string | null {
    if ('id' in action) return String(action.id)
    if (action.action === 'unsuppress') return action.address
    return null
  }

  return {
    async overview({ rows = 20, suppressions = 50, audit = 20 } = {}) {
      const now = clock.now()
      const hourStart = (Math.floor(now / MINUTE) - 59) * MINUTE
      // One query after another: an overview holds one pooled connection, not nine.
      const status = await outbox.status()
      const activity = await activityPerMinute(db.kysely, hourStart)
      const byMinute = new Map(activity.map((a) => [a.minute * MINUTE, a]))
      const lastHour = Array.from({ length: 60 }, (_, i) => {
        const at = hourStart + i * MINUTE
        const found = byMinute.get(at)
        return { at, sent: found?.sent ?? 0, failed: found?.failed ?? 0 }
      })
      const { queued, sending, retrying } = status.counts
      return {
        ...status,
        queueDepth: queued + sending + retrying,
        lastHour,
        sentLastHour: activity.reduce((n, a) => n + a.sent, 0),
        failedLastHour: activity.reduce((n, a) => n + a.failed, 0),
        queued: await store.list({ state: 'queued', limit: rows }),
        failing: await store.failing(rows),
        suppressions: await listSuppressions(db.kysely, suppressions),
        suppressionCount: await countSuppressions(db.kysely),
        feedback: await feedbackSummary(outbox, now),
        recentFeedback: await listFeedback(db.kysely, rows),
        audit: await listAudit(db.kysely, audit),
      }
    },

    perform(actor, action) {
      return transaction(db.kysely, async (trx) => {
        const now = clock.now()
        const affected = await run(trx, action, now)
        await recordAudit(trx, { at: now, actor, action: action.action, target: targetOf(action), affected })
        if (affected > 0 && (action.action === 'retry' || action.action === 'retry-dead')) {
          await store.notify(trx)
          afterCommit(trx, () => signals.emit('wake'))
        }
        return affected
      })
    },

    async purgeExpired(actor, retentionMs) {
      // Batches keep each transaction (and SQLite's write lock) short while workers record.
      let total = 0
      const keptIndex = sqliteIndex(db, 'outbox_body_kept')
      for (;;) {
        const now = clock.now()
        const purged = await transaction(db.kysely, (trx) => purgeSentBodies(trx, now - retentionMs, now, PURGE_BATCH, keptIndex))
        total += purged
        if (purged < PURGE_BATCH) break
      }
      await pruneFailureLog(db.kysely, clock.now() - retentionMs)
      if (total > 0) {
        const target = `sent over ${formatDuration(retentionMs)} ago`
        await recordAudit(db.kysely, { at: clock.now(), actor, action: 'purge', target, affected: total })
      }
      return total
    },

    async expireOverdue() {
      let total = 0
      for (;;) {
        const expired = await expireOverdue(db.kysely, clock.now(), PURGE_BATCH)
        total += expired
        if (expired < PURGE_BATCH) break
      }
      return total
    },

    async purgeExpiredBodies(actor) {
      let total = 0
      for (;;) {
        const purged = await purgeExpiredBodies(db.kysely, clock.now(), PURGE_BATCH)
        total += purged
        if (purged < PURGE_BATCH) break
      }
      if (total > 0) await recordAudit(db.kysely, { at: clock.now(), actor, action: 'purge', target: EXPIRED_BODIES_TARGET, affected: total })
      return total
    },
  }
}
