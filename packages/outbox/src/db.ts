import type { Kysely } from 'kysely'
import type { OutboxTables } from './schema.ts'

export type { Millis, OutboxTables } from './schema.ts'
export { afterCommit, transaction } from './transaction.ts'

export type Dialect = 'sqlite' | 'postgres'

/**
 * A connection of its own that a PostgreSQL worker LISTENs on, so that mail committed by another
 * process wakes it at once (a `pg.Client` fits). Without one, workers find that mail by polling.
 */
export interface NotificationClient {
  connect(): Promise<unknown>
  query(text: string): Promise<unknown>
  end(): Promise<void>
  on(event: 'notification' | 'end', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  removeAllListeners(event?: string): unknown
}

/** The app's database as the outbox uses it. */
export interface Db {
  readonly kysely: Kysely<OutboxTables>
  readonly dialect: Dialect
  /** PostgreSQL: opens a new connection for LISTEN (each call a new one: it reconnects with it). */
  readonly listen?: (() => NotificationClient) | undefined
  /** The NOTIFY/LISTEN channel: the outbox table's name. */
  readonly channel: string
  /** The prefix the tables and their indexes were created with; `mail_` when unset. */
  readonly tablePrefix?: string | undefined
}
