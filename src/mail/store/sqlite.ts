import { sql } from 'kysely'

import { WAITING_STATES } from '../states.ts'
import { recordOutcomes } from './record.ts'
import type { ClaimedMail, DialectStore, OutboxDb } from './types.ts'

/**
 * SQLite has one writer at a time, so a claim is one UPDATE … RETURNING over the due rows:
 * atomic without row locks.
 */
export function sqliteStore(db: OutboxDb): DialectStore {
  return {
    async claim(workerId, now, leaseUntil, limit) {
      const due = db
        .selectFrom('mail_outbox')
        .select('id')
        .where('state', 'in', WAITING_STATES)
        .where('run_at', '<=', now)
        .orderBy('priority')
        .orderBy('run_at')
        .orderBy('id')
        .limit(limit)
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
        .returning(['id', 'priority', 'run_at', 'recipient', 'envelope_from', 'attempts', 'first_attempt_at'])
        .execute()
      // RETURNING has no order: restore the claim order.
      rows.sort((a, b) => a.priority - b.priority || a.run_at - b.run_at || a.id - b.id)
      return rows.map(
        (r): ClaimedMail => ({
          id: r.id,
          priority: r.priority,
          recipient: r.recipient,
          envelopeFrom: r.envelope_from,
          attempts: r.attempts,
          firstAttemptAt: r.first_attempt_at ?? now,
        }),
      )
    },

    record(workerId, outcomes, now) {
      return db.transaction().execute((trx) => recordOutcomes(trx, workerId, outcomes, now))
    },

    async notify() {
      // Other SQLite processes find new mail by polling; this process is woken after commit.
    },
  }
}

