import type { Generated } from 'kysely'
import type { Millis, OutboxTables } from '@ragtime/outbox/lite'

export type { Millis } from '@ragtime/outbox/lite'

export interface UsersTable {
  id: Generated<number>
  /** As the user typed it, with the domain lower-cased (and IDN domains in ASCII). */
  email: string
  /** The whole address lower-cased: unique. */
  email_key: string
  username: string
  /** Lower-cased: unique. */
  username_key: string
  password_hash: string
  confirmed_at: Millis | null
  password_changed_at: Millis
  created_at: Millis
  updated_at: Millis
}

export interface SessionsTable {
  /** SHA-256 of the cookie's token: a stolen database holds no usable session. */
  id: string
  user_id: number
  created_at: Millis
  expires_at: Millis
}

export interface AccountTokensTable {
  /** SHA-256 of the token sent by email. */
  id: string
  user_id: number
  purpose: string
  /** change-email: the new address; undo-email: the address to restore. */
  email: string | null
  /** The outbox message that carries the token, for delivery status. */
  outbox_id: number | null
  created_at: Millis
  expires_at: Millis
  used_at: Millis | null
}

export interface RateLimitsTable {
  key: string
  window_start: Millis
  hits: number
}

/** What the development SMTP server caught (the dev inbox). */
export interface DevInboxTable {
  id: Generated<number>
  received_at: Millis
  mail_from: string
  /** JSON array of envelope recipients. */
  rcpt_to: string
  subject: string
  message_date: Millis | null
  text_body: string
  html_body: string | null
  headers: string
  raw: string
}

/** Ragtime's tables, and the outbox's (`@ragtime/outbox`, prefix `mail_`). */
export interface Database extends OutboxTables {
  dev_inbox: DevInboxTable
  users: UsersTable
  sessions: SessionsTable
  account_tokens: AccountTokensTable
  rate_limits: RateLimitsTable
}
