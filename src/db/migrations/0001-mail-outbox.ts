import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../index.ts'
import { createTableWithId } from './columns.ts'

/** The outbox, its message bodies and the suppression list. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await createTableWithId(db, 'mail_outbox', dialect)
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('envelope_from', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('last_response', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('run_at', 'bigint', (c) => c.notNull())
    .addColumn('first_attempt_at', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('locked_by', 'text')
    .addColumn('locked_until', 'bigint')
    .execute()

  // What a worker claims next: only waiting rows are in this index, so a large history costs nothing.
  await db.schema
    .createIndex('mail_outbox_due')
    .on('mail_outbox')
    .columns(['priority', 'run_at', 'id'])
    .where(sql.ref('state'), 'in', ['queued', 'retrying'])
    .execute()
  // Leases to take over from workers that died.
  await db.schema
    .createIndex('mail_outbox_leased')
    .on('mail_outbox')
    .column('locked_until')
    .where(sql.ref('state'), '=', 'sending')
    .execute()
  // A live dedupe key is unique; a dead or cancelled message frees its key.
  await db.schema
    .createIndex('mail_outbox_dedupe')
    .unique()
    .on('mail_outbox')
    .column('dedupe_key')
    .where(sql.ref('state'), 'in', ['queued', 'sending', 'retrying', 'sent'])
    .execute()
  await db.schema.createIndex('mail_outbox_state').on('mail_outbox').columns(['state', 'id']).execute()
  await db.schema.createIndex('mail_outbox_recipient').on('mail_outbox').columns(['recipient', 'id']).execute()

  await db.schema
    .createTable('mail_body')
    .addColumn('outbox_id', 'bigint', (c) => c.primaryKey().references('mail_outbox.id').onDelete('cascade'))
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('mail_suppression')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('outbox_id', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
}
