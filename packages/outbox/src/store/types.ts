import type { Kysely, Transaction } from 'kysely'
import type { OutboxTables, Millis } from '../db.ts'
import type { MailState } from '../states.ts'

/** A row to add to the outbox, rendered already. */
export interface NewMail {
  readonly template: string
  readonly recipient: string
  readonly subject: string
  readonly messageId: string
  readonly envelopeFrom: string
  readonly raw: string
  readonly priority: number
  readonly dedupeKey: string | null
  /** Once finished and past this, the stored message is deleted (see EnqueueOptions.bodyExpiresAt). */
  readonly bodyExpiresAt: Millis | null
  /** Not sent after this: it ends `expired` (EnqueueOptions.deadline). */
  readonly expiresAt: Millis | null
  readonly runAt: Millis
  readonly now: Millis
}

/** A message a worker holds under its lease. */
export interface ClaimedMail {
  readonly id: number
  readonly template: string
  readonly priority: number
  readonly recipient: string
  readonly envelopeFrom: string
  /** Including the attempt this claim starts. */
  readonly attempts: number
  readonly firstAttemptAt: Millis
  /** When it was enqueued: the start of its enqueue-to-sent latency. */
  readonly createdAt: Millis
  /** Its deadline: not sent from this time on. */
  readonly expiresAt: Millis | null
}

/** `transient` failures are retried; `permanent` ones (SMTP 5xx) are not. */
export type FailureKind = 'transient' | 'permanent'

/** What a server answered to a failed attempt: its code and enhanced status, null where it said none. */
export interface SmtpReply {
  readonly smtpCode: number | null
  readonly smtpStatus: string | null
}

/** Why a message's last attempt, or its delivery after sending, failed. */
export interface LastFailure extends SmtpReply {
  /** transient: it will be retried; permanent: refused (5xx) or not sendable; gave-up: transient past the give-up age; bounced: reported after sending. */
  readonly kind: 'transient' | 'permanent' | 'gave-up' | 'bounced'
}

/** What became of one attempt. Failures name their template for the failure log. */
export type Outcome =
  | { readonly id: number; readonly kind: 'sent'; readonly response: string }
  | {
      readonly id: number
      readonly kind: 'retry'
      readonly template: string
      readonly error: string
      readonly reply: SmtpReply
      readonly runAt: Millis
    }
  | {
      readonly id: number
      readonly kind: 'dead'
      readonly template: string
      /** `transient` here: it kept failing past the give-up age. */
      readonly failure: FailureKind
      readonly error: string
      readonly reply: SmtpReply
      readonly suppress: string | null
    }
  /** Its deadline passed before it could be sent: never sent. */
  | { readonly id: number; readonly kind: 'expired'; readonly template: string }

/** What differs between SQLite and PostgreSQL (store/sqlite.ts, store/postgres.ts). */
export interface DialectStore {
  /** Whether a claim skips rows another transaction holds (FOR UPDATE SKIP LOCKED). */
  readonly skipLocked: boolean
  /** Tells other processes, from inside the enqueueing transaction, that mail is waiting. */
  notify(trx: Transaction<OutboxTables>): Promise<void>
  /** Calls `onWake` when another process commits mail; returns how to stop listening. */
  subscribe(onWake: () => void, onError: (err: unknown) => void): () => Promise<void>
}

export type OutboxDb = Kysely<OutboxTables>

export interface OutboxRow {
  readonly id: number
  readonly state: MailState
  readonly template: string
  readonly recipient: string
  readonly subject: string
  readonly messageId: string
  readonly priority: number
  readonly attempts: number
  readonly lastError: string | null
  /** `lastError` as data: what kind of failure, and the server's code and status. */
  readonly lastFailure: LastFailure | null
  readonly lastResponse: string | null
  readonly createdAt: Millis
  readonly runAt: Millis
  readonly sentAt: Millis | null
  readonly updatedAt: Millis
}
