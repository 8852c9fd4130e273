import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../db.ts'

/**
 * Indexes for what operators read on every look at the outbox (the status, `/metrics`, the mail
 * dashboard): the age of the oldest message still to be delivered, and the latest failures. Each
 * holds only the rows its reader needs, so neither read grows with the history: before them, with
 * 200,000 messages on SQLite, the failure list read and sorted every failed one (58 ms) and the
 * oldest age every waiting one (40 ms with 100,000 queued). The lists of states are spelt here
 * as the readers spell them (store/read.ts): a partial index serves a WHERE that implies its own.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- DDL by name
export async function up(db: Kysely<any>, _dialect: Dialect, p: string): Promise<void> {
  const outbox = p + 'outbox'
  await db.schema
    .createIndex(p + 'outbox_waiting')
    .ifNotExists()
    .on(outbox)
    .column('created_at')
    .where(sql.ref('state'), 'in', ['queued', 'sending', 'retrying'])
    .execute()
  await db.schema
    .createIndex(p + 'outbox_failing')
    .ifNotExists()
    .on(outbox)
    .column('updated_at')
    .where(sql.ref('state'), 'in', ['retrying', 'dead', 'bounced', 'expired'])
    .execute()
}
