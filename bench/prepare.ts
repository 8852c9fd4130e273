import { sql } from 'kysely'
import { loadConfig } from '../src/config/index.ts'
import { migrateToLatest, openDatabase, transaction } from '../src/db/index.ts'
import { outboxFromConfig } from '../src/mail/index.ts'

/** A SQLite file holding `count` queued test emails, built through the real enqueue path. */
export async function prepareQueue(file: string, count: number, copies = 1): Promise<void> {
  const config = loadConfig({ DATABASE_URL: `sqlite:${file}`, RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>' })
  const db = openDatabase(config.database)
  await migrateToLatest(db)
  const outbox = outboxFromConfig(config, db)
  for (let done = 0; done < count; ) {
    const n = Math.min(1_000, count - done)
    await transaction(db.kysely, async (trx) => {
      for (let i = 0; i < n; i++) {
        await outbox.enqueue(trx, {
          template: 'system/test',
          to: `user${done + i}@example.test`,
          subject: 'Bench',
          context: { sentAt: String(done + i), baseUrl: 'http://localhost:3000' },
        })
      }
    })
    done += n
  }
  // Large backlogs: copy the rendered rows rather than render 100,000 times.
  for (let c = 1; c < copies; c++) {
    await transaction(db.kysely, async (trx) => {
      const offset = c * count
      await sql`insert into mail_outbox (id, state, priority, template, recipient, subject, message_id, envelope_from,
        created_at, run_at, updated_at)
        select id + ${offset}, state, priority, template, recipient, subject, message_id || ${`-${c}`}, envelope_from,
        created_at, run_at, updated_at from mail_outbox where id <= ${count}`.execute(trx)
      await sql`insert into mail_body (outbox_id, raw)
        select outbox_id + ${offset}, raw from mail_body where outbox_id <= ${count}`.execute(trx)
    })
  }
  await db.close()
}
