import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../index.ts'

/**
 * Security hardening: messages that carry a credential (a link) name when their stored body may
 * go; confirmation links are bound to the address they were sent to (backfilled from the
 * account's current address, which is where every pending one went: a correction voids older
 * links), and pending reset links, which a change of address did not void before, are voided.
 */
const HOUR = 3_600_000

export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('mail_outbox').addColumn('body_expires_at', 'bigint').execute()
  // Finished mail whose body holds a credential that has expired: what the purge looks through.
  await db.schema
    .createIndex('mail_outbox_body_expires')
    .on('mail_outbox')
    .column('body_expires_at')
    .where(sql<boolean>`body_expires_at is not null and body_purged_at is null`)
    .execute()

  // Mail already stored with a link: its body goes once the link's lifetime (as the accounts
  // module had it when this was written) has passed.
  const lifetimes = { 'auth/confirm': 48 * HOUR, 'auth/reset': HOUR, 'auth/change-email': 24 * HOUR, 'auth/email-changed': 7 * 24 * HOUR }
  for (const [template, ms] of Object.entries(lifetimes)) {
    await sql`update mail_outbox set body_expires_at = created_at + ${ms}
              where template = ${template} and body_purged_at is null and body_expires_at is null`.execute(db)
  }

  await sql`update account_tokens set email = (select email from users where users.id = account_tokens.user_id)
            where purpose = 'confirm' and email is null`.execute(db)
  await sql`delete from account_tokens where purpose = 'reset' and email is null`.execute(db)
  // Purging unconfirmed accounts and expired sessions looks these up by age.
  await db.schema.createIndex('users_unconfirmed').on('users').column('created_at').where(sql<boolean>`confirmed_at is null`).execute()
  await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute()
  await db.schema.createIndex('rate_limits_window').on('rate_limits').column('window_start').execute()
}
