import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../db.ts'

/**
 * Every table of the outbox, as it stands at version 0.1. `if not exists` throughout: a database
 * whose tables an earlier, in-app version of this outbox made (same names, same shape) is taken
 * over as it is.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- DDL by name
export async function up(db: Kysely<any>, dialect: Dialect, p: string): Promise<void> {
  // An auto-incrementing 64-bit key: SQLite's INTEGER PRIMARY KEY, PostgreSQL's bigserial.
  const withId = (table: string) =>
    db.schema
      .createTable(p + table)
      .ifNotExists()
      .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) =>
        dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
  const index = (name: string) => db.schema.createIndex(p + name).ifNotExists()

  await withId('outbox')
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
    .addColumn('body_purged_at', 'bigint')
    .addColumn('body_expires_at', 'bigint')
    .addColumn('expires_at', 'bigint')
    .execute()
  const outbox = p + 'outbox'
  // What a worker claims next: only waiting rows are in this index, so a large history costs nothing.
  await index('outbox_due').on(outbox).columns(['priority', 'run_at', 'id']).where(sql.ref('state'), 'in', ['queued', 'retrying']).execute()
  // Leases to take over from workers that died.
  await index('outbox_leased').on(outbox).column('locked_until').where(sql.ref('state'), '=', 'sending').execute()
  // A live dedupe key is unique; a dead or cancelled message frees its key.
  await index('outbox_dedupe')
    .unique()
    .on(outbox)
    .column('dedupe_key')
    .where(sql.ref('state'), 'in', ['queued', 'sending', 'retrying', 'sent'])
    .execute()
  await index('outbox_state').on(outbox).columns(['state', 'id']).execute()
  await index('outbox_recipient').on(outbox).columns(['recipient', 'id']).execute()
  // Deliveries per minute.
  await index('outbox_sent_at').on(outbox).column('sent_at').where(sql.ref('sent_at'), 'is not', null).execute()
  // Sent mail whose body is still stored: what retention looks through, however long the history.
  await index('outbox_body_kept').on(outbox).column('sent_at').where(sql<boolean>`state = 'sent' and body_purged_at is null`).execute()
  // Finished mail whose body holds a credential that has expired: what the purge looks through.
  await index('outbox_body_expires')
    .on(outbox)
    .column('body_expires_at')
    .where(sql<boolean>`body_expires_at is not null and body_purged_at is null`)
    .execute()
  // Mail with a deadline, by state, for the sweep that expires what no worker reached in time
  // (the state first: SQLite's planner, which has no statistics, then prefers it to outbox_state).
  await index('outbox_deadline').on(outbox).columns(['state', 'expires_at']).where(sql<boolean>`expires_at is not null`).execute()
  // Bounces and webhooks name the message by its Message-ID.
  await index('outbox_message_id').on(outbox).column('message_id').execute()

  // The message itself, apart from its row: state changes rewrite a small row, not the message.
  await db.schema
    .createTable(p + 'body')
    .ifNotExists()
    .addColumn('outbox_id', 'bigint', (c) => c.primaryKey().references(`${outbox}.id`).onDelete('cascade'))
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable(p + 'suppression')
    .ifNotExists()
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('outbox_id', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // smtp (a 5xx during the send), dsn, arf, or a provider's webhook.
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('smtp'))
    .execute()

  // One row per failed attempt (rare, so the happy path writes nothing here).
  await withId('failures')
    .addColumn('outbox_id', 'bigint', (c) => c.notNull())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute()
  await index('failures_at').on(p + 'failures').column('at').execute()

  // Every operator action.
  await withId('audit')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('affected', 'integer', (c) => c.notNull())
    .execute()
  await index('audit_at').on(p + 'audit').column('at').execute()

  // Bounces, delays and complaints reported after the relay accepted a message.
  await withId('feedback')
    .addColumn('outbox_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    // `<source>:<the event's own id>`: the same event reported twice counts once.
    .addColumn('event_key', 'text', (c) => c.notNull().unique())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('status', 'text')
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute()
  await index('feedback_at').on(p + 'feedback').columns(['kind', 'at']).execute()
  await index('feedback_outbox').on(p + 'feedback').column('outbox_id').execute()

  // One row per shared quota (`relay`, `domain:gmail.com`): its theoretical arrival time (GCRA).
  await db.schema
    .createTable(p + 'flow_buckets')
    .ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('tat', 'double precision', (c) => c.notNull())
    // Who took last: tells a caller whether its own take went through.
    .addColumn('taker', 'text', (c) => c.notNull())
    .execute()
  // One row per worker and relay: the connections it may hold until `expires_at`.
  await db.schema
    .createTable(p + 'flow_slots')
    .ifNotExists()
    .addColumn('relay', 'text', (c) => c.notNull())
    .addColumn('worker_id', 'text', (c) => c.notNull())
    .addColumn('slots', 'integer', (c) => c.notNull())
    // What it asked for: others keep it free for it, up to an even share.
    .addColumn('wanted', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint(`${p}flow_slots_pk`, ['relay', 'worker_id'])
    .execute()
}
