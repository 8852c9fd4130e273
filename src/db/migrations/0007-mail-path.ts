import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../index.ts'
import { createTableWithId } from './columns.ts'

/**
 * The real mail path: mail that expires unsent, and bounces and complaints that come back after
 * the relay accepted a message (by DSN/ARF mail or a provider's webhook).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // Not sent after this: the message ends `expired` (its link would be void on arrival).
  await db.schema.alterTable('mail_outbox').addColumn('expires_at', 'bigint').execute()
  // Where a suppression came from: smtp (a 5xx during the send), dsn, arf, or a provider's webhook.
  await db.schema.alterTable('mail_suppression').addColumn('source', 'text', (c) => c.notNull().defaultTo('smtp')).execute()
  await createTableWithId(db, 'mail_feedback', dialect)
    .addColumn('outbox_id', 'bigint', (c) => c.notNull())
    // bounce (permanent), delay (transient, noted only), complaint.
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    // `<source>:<the event's own id>`: the same event reported twice counts once.
    .addColumn('event_key', 'text', (c) => c.notNull().unique())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('status', 'text')
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('mail_feedback_at').on('mail_feedback').columns(['kind', 'at']).execute()
  // Mail with a deadline, by state, for the sweep that expires what no worker reached in time: with
  // the state first, SQLite's planner (which has no statistics) prefers it to mail_outbox_state.
  await db.schema
    .createIndex('mail_outbox_deadline')
    .on('mail_outbox')
    .columns(['state', 'expires_at'])
    .where(sql<boolean>`expires_at is not null`)
    .execute()
  // Bounces and webhooks name the message by its Message-ID.
  await db.schema.createIndex('mail_outbox_message_id').on('mail_outbox').column('message_id').execute()
  await db.schema.createIndex('mail_feedback_outbox').on('mail_feedback').column('outbox_id').execute()
}
