import type { Kysely } from 'kysely'
import type { Dialect } from '../index.ts'

/**
 * Flow control shared by every worker process (see packages/outbox/src/flow/): send quotas as shared
 * token buckets, and each worker's share of a relay's connection limit.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  // One row per quota (`relay`, `domain:gmail.com`): its theoretical arrival time (GCRA).
  await db.schema
    .createTable('mail_flow_buckets')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('tat', 'double precision', (c) => c.notNull())
    // Who took last: tells a caller whether its own take went through.
    .addColumn('taker', 'text', (c) => c.notNull())
    .execute()
  // One row per worker and relay: the connections it may hold until `expires_at` (renewed while it runs).
  await db.schema
    .createTable('mail_flow_slots')
    .addColumn('relay', 'text', (c) => c.notNull())
    .addColumn('worker_id', 'text', (c) => c.notNull())
    .addColumn('slots', 'integer', (c) => c.notNull())
    // What it asked for: others keep it free for it, up to an even share.
    .addColumn('wanted', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mail_flow_slots_pk', ['relay', 'worker_id'])
    .execute()
}
