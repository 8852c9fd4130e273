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
}

export interface Database {
  mail_outbox: MailOutboxTable
  mail_body: MailBodyTable
  mail_suppression: MailSuppressionTable
}
