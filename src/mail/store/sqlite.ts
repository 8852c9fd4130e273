import { claimDue } from './claim.ts'
import { recordOutcomes } from './record.ts'
import type { DialectStore, OutboxDb } from './types.ts'

/** SQLite: one writer at a time, so a claim needs no row locks; other processes poll. */
export function sqliteStore(db: OutboxDb): DialectStore {
  return {
    claim: (workerId, now, leaseUntil, limit, maxPriority) =>
      claimDue(db, { workerId, now, leaseUntil, limit, skipLocked: false, maxPriority }),
    record: (workerId, outcomes, now) => db.transaction().execute((trx) => recordOutcomes(trx, workerId, outcomes, now)),
    async notify() {
      // Other SQLite processes find new mail by polling; this process is woken after commit.
    },
    subscribe: () => async () => {},
  }
}
