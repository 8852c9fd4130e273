import type { Generated } from 'kysely'

/** Times are integer milliseconds since the epoch on both databases. */
export type Millis = number


export interface MailOutboxTable {
  id: Generated<number>
  state: string
  /** 0 runs first; see MAIL_PRIORITIES. */
  priority: number
  template: string
  recipient: string
  subject: string
  message_id: string
  envelope_from: string
  dedupe_key: string | null
  attempts: Generated<number>
  last_error: string | null
  /** The SMTP server's reply when it accepted the message. */
  last_response: string | null
  created_at: Millis
  run_at: Millis
  first_attempt_at: Millis | null
  sent_at: Millis | null
  updated_at: Millis
  locked_by: string | null
  locked_until: Millis | null
  /** When retention removed the stored message of this sent mail (its row stays). */
  body_purged_at: Millis | null
  /** The body carries a credential (a link) that is void after this: purge it once the message is finished. */
  body_expires_at: Millis | null
  /** Not sent after this: the message ends `expired`. */
  expires_at: Millis | null
  /** The last failure's kind: transient, permanent, gave-up, bounced (null: none yet). */
  last_failure: string | null
  /** The SMTP reply code of the last failure (550), when a server answered. */
  last_smtp_code: number | null
  /** The enhanced status of the last failure (5.1.1), when the reply or the report had one. */
  last_smtp_status: string | null
}

/**
 * The complete RFC 5322 message, rendered and encoded at enqueue; every attempt sends it.
 * Kept apart from its outbox row so that state changes rewrite a small row, not the message.
 */
export interface MailBodyTable {
  outbox_id: number
  raw: string
}

export interface MailSuppressionTable {
  /** Lower-cased address. */
  address: string
  reason: string
  outbox_id: number | null
  created_at: Millis
  /** smtp (refused during the send), dsn, arf, postmark, resend, mailgun, ses, or admin. */
  source: Generated<string>
}

/** A bounce, delay or complaint reported after the relay accepted the message. */
export interface MailFeedbackTable {
  id: Generated<number>
  outbox_id: number
  kind: 'bounce' | 'delay' | 'complaint'
  source: string
  event_key: string
  recipient: string
  /** RFC 3463 status (5.1.1) when known. */
  status: string | null
  detail: string
  at: Millis
}

/** One failed delivery attempt, for the failures per minute of mailOperations' overview. */
export interface MailFailuresTable {
  id: Generated<number>
  outbox_id: number
  template: string
  /** `transient` (will retry) or `permanent` (dead). */
  kind: string
  error: string
  at: Millis
}

/** Who did what to the outbox (mailOperations' perform and purges). */
export interface MailAuditTable {
  id: Generated<number>
  at: Millis
  /** The actor the app names, such as an operator's address or `cli:<user>@<host>`. */
  actor: string
  /** retry, retry-dead, cancel, unsuppress, purge. */
  action: string
  /** A message id or an address; null for actions on many. */
  target: string | null
  /** How many rows the action changed. */
  affected: number
}


/** A shared send quota (GCRA): `tat` is when the bucket would be empty again, in ms. */
export interface MailFlowBucketsTable {
  key: string
  tat: number
  taker: string
}

/** A worker's share of a relay's connection limit, held until `expires_at`. */
export interface MailFlowSlotsTable {
  relay: string
  worker_id: string
  slots: number
  wanted: number
  expires_at: Millis
}

/** The outbox's tables, by their names without the prefix. */
export interface OutboxTableTypes {
  outbox: MailOutboxTable
  body: MailBodyTable
  suppression: MailSuppressionTable
  failures: MailFailuresTable
  feedback: MailFeedbackTable
  audit: MailAuditTable
  flow_buckets: MailFlowBucketsTable
  flow_slots: MailFlowSlotsTable
}

/**
 * The outbox's tables under their names (`mail_outbox`, … with the default prefix). An app's
 * Kysely database type includes them to hand its transactions to `enqueue`:
 * `interface Database extends OutboxTables { users: … }`, or `OutboxTables<'shop_mail_'>` for an
 * outbox created with that `tablePrefix`.
 */
export type OutboxTables<Prefix extends string = 'mail_'> = {
  [Table in keyof OutboxTableTypes as `${Prefix}${Table}`]: OutboxTableTypes[Table]
}
