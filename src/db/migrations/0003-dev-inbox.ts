import type { Kysely } from 'kysely'
import type { Dialect } from '../index.ts'
import { createTableWithId } from './columns.ts'

/** The dev inbox: mail caught by the development SMTP server, kept across restarts. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await createTableWithId(db, 'dev_inbox', dialect)
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('mail_from', 'text', (c) => c.notNull())
    .addColumn('rcpt_to', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('message_date', 'bigint')
    .addColumn('text_body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text')
    .addColumn('headers', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute()
}
