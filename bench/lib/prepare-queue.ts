// Queued mail built through the real enqueue path, for the scenarios that measure delivery.
import { sql } from 'kysely'
import { loadConfig } from '../../src/config/index.ts'
import { type Db, migrateToLatest, openDatabase, transaction } from '../../src/db/index.ts'
import { type Outbox, outboxFromConfig } from '../../src/mail/index.ts'
import { benchAddress } from './signups.ts'

export interface BenchDatabase {
  readonly db: Db
  readonly outbox: Outbox
}

/** Opens (and migrates) the database at `databaseUrl` with an outbox on it. */
export async function openBenchDatabase(databaseUrl: string): Promise<BenchDatabase> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>', RAGTIME_LOG_LEVEL: 'warn' })
  const db = openDatabase(config.database)
  await migrateToLatest(db)
  return { db, outbox: outboxFromConfig(config, db) }
}

/** Enqueues one test email to bench user `i` inside `trx`. */
export function enqueueTestMail(outbox: Outbox, trx: Parameters<Outbox['enqueue']>[0], i: number, runAt?: Date): Promise<unknown> {
  const context = { sentAt: String(i), baseUrl: 'http://localhost:3000' }
  return outbox.enqueue(trx, { template: 'system/test', to: benchAddress(i), subject: 'Bench', context }, { runAt })
}

/** Enqueues `count` test emails (users 0 … count − 1), a thousand per transaction. */
export async function enqueueTestMails({ db, outbox }: BenchDatabase, count: number, runAt?: Date): Promise<void> {
  for (let done = 0; done < count; ) {
    const n = Math.min(1_000, count - done)
    await transaction(db.kysely, async (trx) => {
      for (let i = done; i < done + n; i++) await enqueueTestMail(outbox, trx, i, runAt)
    })
    done += n
  }
}

/**
 * A SQLite file holding `count × copies` queued test emails. The first `count` are rendered and
 * enqueued; the copies repeat their rows, so a 100,000-message backlog takes seconds to build.
 */
export async function prepareQueue(file: string, count: number, copies = 1): Promise<void> {
  const database = await openBenchDatabase(`sqlite:${file}`)
  await enqueueTestMails(database, count)
  for (let c = 1; c < copies; c++) {
    await transaction(database.db.kysely, async (trx) => {
      const offset = c * count
      await sql`insert into mail_outbox (id, state, priority, template, recipient, subject, message_id, envelope_from,
        created_at, run_at, updated_at)
        select id + ${offset}, state, priority, template, recipient, subject, message_id || ${`-${c}`}, envelope_from,
        created_at, run_at, updated_at from mail_outbox where id <= ${count}`.execute(trx)
      await sql`insert into mail_body (outbox_id, raw)
        select outbox_id + ${offset}, raw from mail_body where outbox_id <= ${count}`.execute(trx)
    })
  }
  await database.db.close()
}
