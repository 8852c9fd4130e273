import type { Transaction } from 'kysely'
import type { Db, Millis, OutboxTables } from '../db.ts'
import type { MailState } from '../states.ts'
import { sqliteIndex } from './indexed.ts'
import { claimDue } from './claim.ts'
import { insertMail, setEnvelopeFrom } from './insert.ts'
import { reclaimExpired, releaseClaims, renewLeases } from './lease.ts'
import { postgresDialect } from './postgres.ts'
import { countByState, failingMail, getMail, isSuppressed, listMail, oldestWaitingSince, readBodies } from './read.ts'
import { recordOutcomes } from './record.ts'
import { sqliteDialect } from './sqlite.ts'
import type { ClaimedMail, DialectStore, NewMail, Outcome, OutboxRow } from './types.ts'

export type { ClaimedMail, LastFailure, NewMail, OutboxRow, Outcome, SmtpReply } from './types.ts'

/**
 * The queries of enqueue and delivery, one file per operation (the operators' are in
 * operations.ts), over the app's database. Only `notify` and `subscribe` differ between the
 * dialects, and whether a claim skips locked rows (store/sqlite.ts, store/postgres.ts).
 */
export interface OutboxStore extends Omit<DialectStore, 'skipLocked'> {
  /**
   * Takes up to `limit` due messages for `workerId` until `leaseUntil`, highest priority first;
   * with `maxPriority`, only messages of that priority or higher (the high lane).
   */
  claim(workerId: string, now: Millis, leaseUntil: Millis, limit: number, maxPriority?: number): Promise<ClaimedMail[]>
  /** Records outcomes in one transaction; rows another worker took over are left alone. Returns the ids recorded. */
  record(workerId: string, outcomes: readonly Outcome[], now: Millis): Promise<ReadonlySet<number>>
  /** `created` is false when a live message with the same dedupe key is returned instead. */
  insert(trx: Transaction<OutboxTables>, mail: NewMail): Promise<{ id: number; state: MailState; created: boolean }>
  /** The envelope sender of a message just inserted (its VERP address, which needs its id). */
  setEnvelopeFrom(trx: Transaction<OutboxTables>, id: number, envelopeFrom: string): Promise<void>
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
  const { skipLocked, notify, subscribe } = db.dialect === 'postgres' ? postgresDialect(db.listen, db.channel) : sqliteDialect()
  const dueIndex = sqliteIndex(db, 'outbox_due')
  const waitingIndex = sqliteIndex(db, 'outbox_waiting')
  const failingIndex = sqliteIndex(db, 'outbox_failing')
  return {
    notify,
    subscribe,
    claim: (workerId, now, leaseUntil, limit, maxPriority) => claimDue(k, { workerId, now, leaseUntil, limit, skipLocked, maxPriority, dueIndex }),
    record: (workerId, outcomes, now) => k.transaction().execute((trx) => recordOutcomes(trx, workerId, outcomes, now)),
    insert: insertMail,
    setEnvelopeFrom,
    renew: (workerId, leaseUntil, now) => renewLeases(k, workerId, leaseUntil, now),
    release: (workerId, ids, now, runAt) => releaseClaims(k, workerId, ids, now, runAt),
    reclaimExpired: (now) => reclaimExpired(k, now),
    counts: () => countByState(k),
    oldestWaitingSince: () => oldestWaitingSince(k, waitingIndex),
    list: (filter) => listMail(k, filter),
    get: (id) => getMail(k, id),
    failing: (limit) => failingMail(k, limit, failingIndex),
    isSuppressed: (address) => isSuppressed(k, address),
    bodies: (ids) => readBodies(k, ids),
  }
}
