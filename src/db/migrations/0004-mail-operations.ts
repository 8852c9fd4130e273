import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../index.ts'
import { createTableWithId } from './columns.ts'

/**
 * What operating the outbox needs: a log of failed attempts (the dashboard's failure chart),
 * a record of every operator action, and retention of sent mail's bodies.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = (table: string) => createTableWithId(db, table, dialect)

  // One row per failed attempt (rare, so the happy path writes nothing here).
  await id('mail_failures')
    .addColumn('outbox_id', 'bigint', (c) => c.notNull())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('mail_failures_at').on('mail_failures').column('at').execute()

  await id('mail_audit')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('affected', 'integer', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('mail_audit_at').on('mail_audit').column('at').execute()

  await db.schema.alterTable('mail_outbox').addColumn('body_purged_at', 'bigint').execute()
  // Deliveries per minute.
  await db.schema
    .createIndex('mail_outbox_sent_at')
    .on('mail_outbox')
    .column('sent_at')
    .where(sql.ref('sent_at'), 'is not', null)
    .execute()
  // Sent mail whose body is still stored: what retention looks through, however long the history.
  await db.schema
    .createIndex('mail_outbox_body_kept')
    .on('mail_outbox')
    .column('sent_at')
    .where(sql<boolean>`state = 'sent' and body_purged_at is null`)
    .execute()
}
