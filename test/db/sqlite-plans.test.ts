// How SQLite runs the queries that must not grow with the table: the worker's claim, retention's
// purge, the dedupe look-ups, the status's oldest waiting message and the failure list read
// their indexes and sort nothing. Left to its planner (no statistics), SQLite looked the rows up
// by state and sorted all of them, every time: for the claim, every waiting message (30 ms a
// claim with 100,000 queued); for the purge and the dedupe look-ups, every sent one.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import SqliteDatabase from 'better-sqlite3'
import { Kysely } from 'kysely'
import { createOutbox, createRenderer, MAIL_PRIORITIES, mailOperations, type OutboxTables, transaction } from '@ragtime/outbox'
import { ImmediateSqliteDialect } from '../../src/db/sqlite-dialect.ts'
import { tempDir } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'

interface Captured {
  sql: string
  parameters: readonly unknown[]
}

/** An outbox on a fresh SQLite file with `queued` messages, and every query it runs. */
async function queuedOutbox<Prefix extends string>(tablePrefix: Prefix, queued: number) {
  const dir = tempDir()
  writeFileSync(path.join(dir, 'note.txt'), 'Hello.\n')
  writeFileSync(path.join(dir, 'note.html'), '<p>Hello.</p>\n')
  const database = new SqliteDatabase(path.join(dir, 'claim.sqlite'))
  const queries: Captured[] = []
  const db = new Kysely<OutboxTables<Prefix>>({
    dialect: new ImmediateSqliteDialect(database),
    log: (event) => {
      queries.push({ sql: event.query.sql, parameters: event.query.parameters })
    },
  })
  const outbox = createOutbox<Record<string, object>, Prefix>({ db, tablePrefix, renderer: createRenderer({ templatesDir: dir, sender: 'Shop <noreply@shop.test>' }) })
  await outbox.migrate()
  await transaction(db, async (trx) => {
    for (let i = 0; i < queued; i++) {
      const priority = i % 10 === 0 ? 'high' : 'low'
      await outbox.enqueue(trx, { template: 'note', to: `user${i}@example.test`, subject: 'Note', context: {} }, { priority })
    }
  })
  queries.length = 0
  return { database, db, outbox, queries }
}

/** SQLite's plan for the one statement among `queries` that matches `pattern`. */
function planOf(database: SqliteDatabase.Database, queries: readonly Captured[], pattern: RegExp): string[] {
  const matching = queries.filter((q) => pattern.test(q.sql))
  assert.equal(matching.length, 1, `one statement like ${pattern} among ${queries.map((q) => q.sql).join('\n')}`)
  const [query] = matching as [Captured]
  return database
    .prepare(`explain query plan ${query.sql}`)
    .all(...(query.parameters as unknown[]))
    .map((row) => (row as { detail: string }).detail)
}

/** The claim is the statement that counts an attempt. */
const CLAIM = /^update .*"attempts" \+/is
/** The purge marks the rows whose bodies it deletes. */
const PURGE = /^update .*set "body_purged_at"/is

const skip = ON_POSTGRES ? 'SQLite’s query planner: checked on the SQLite pass (PostgreSQL’s finds the indexes with its statistics)' : undefined

describe('query plans on SQLite', { skip }, () => {
  for (const tablePrefix of ['mail_', 'shop_mail_']) {
    test(`a claim reads ${tablePrefix}outbox_due in order and sorts nothing, the high lane too`, async () => {
      const { database, db, outbox, queries } = await queuedOutbox(tablePrefix, 300)
      try {
        const now = Date.now()
        const claimed = await outbox.store.claim('w1', now, now + 60_000, 50)
        assert.equal(claimed.length, 50)
        // Highest priority first, then claim order: the 30 high-priority messages lead.
        assert.deepEqual(
          claimed.slice(0, 31).map((m) => m.priority),
          [...Array<number>(30).fill(MAIL_PRIORITIES.high), MAIL_PRIORITIES.low],
        )
        const plan = planOf(database, queries, CLAIM)
        assert.ok(plan.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_due`)), plan.join(' | '))
        assert.ok(!plan.some((step) => /TEMP B-TREE|outbox_state/.test(step)), plan.join(' | '))

        queries.length = 0
        const lane = await outbox.store.claim('w1', now, now + 60_000, 10, MAIL_PRIORITIES.high)
        assert.deepEqual(lane, [])
        const lanePlan = planOf(database, queries, CLAIM)
        assert.ok(lanePlan.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_due`)), lanePlan.join(' | '))
        assert.ok(!lanePlan.some((step) => /TEMP B-TREE|outbox_state/.test(step)), lanePlan.join(' | '))
      } finally {
        await db.destroy()
      }
    })

    test(`a taken dedupe key, and retry's check for one, read ${tablePrefix}outbox_dedupe, not every sent message`, async () => {
      const { database, db, outbox, queries } = await queuedOutbox(tablePrefix, 50)
      try {
        const email = { template: 'note', to: 'ann@example.test', subject: 'Note', context: {} }
        const first = await transaction(db, (trx) => outbox.enqueue(trx, email, { dedupeKey: 'welcome:ann' }))
        queries.length = 0
        assert.equal(await transaction(db, (trx) => outbox.enqueue(trx, email, { dedupeKey: 'welcome:ann' })), first)
        const lookup = planOf(database, queries, /^select .*"dedupe_key" = \?/is)
        assert.ok(lookup.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_dedupe`)), lookup.join(' | '))

        database.exec(`update ${tablePrefix}outbox set state = 'dead' where id = ${first}`)
        queries.length = 0
        assert.equal(await mailOperations(outbox).perform('test', { action: 'retry', id: first }), 1)
        const retry = planOf(database, queries, /^update .* as "live"/is)
        assert.ok(retry.some((step) => /live USING INDEX \w*outbox_dedupe/.test(step)), retry.join(' | '))
      } finally {
        await db.destroy()
      }
    })

    test(`the status's oldest waiting message and the failure list read ${tablePrefix}outbox_waiting and ${tablePrefix}outbox_failing`, async () => {
      const { database, db, outbox, queries } = await queuedOutbox(tablePrefix, 300)
      try {
        database.exec(`update ${tablePrefix}outbox set state = 'sent' where id <= 200`)
        database.exec(`update ${tablePrefix}outbox set state = 'dead', updated_at = id where id > 290`)
        queries.length = 0
        const status = await outbox.status()
        assert.equal(status.counts.queued, 90)
        assert.ok(status.oldestWaitingMs !== null)
        const oldest = planOf(database, queries, /^select min\(created_at\)/is)
        assert.ok(oldest.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_waiting`)), oldest.join(' | '))

        queries.length = 0
        const failing = await outbox.store.failing(5)
        assert.deepEqual(failing.map((row) => row.id), [300, 299, 298, 297, 296])
        const list = planOf(database, queries, /^select \* from/is)
        assert.ok(list.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_failing`)), list.join(' | '))
        assert.ok(!list.some((step) => /TEMP B-TREE|outbox_state/.test(step)), list.join(' | '))
      } finally {
        await db.destroy()
      }
    })

    test(`retention's purge reads ${tablePrefix}outbox_body_kept in order and sorts nothing`, async () => {
      const { database, db, outbox, queries } = await queuedOutbox(tablePrefix, 300)
      try {
        // Sent a day ago, the first 200; the rest just now.
        const now = Date.now()
        database.exec(`update ${tablePrefix}outbox set state = 'sent', sent_at = ${now - 86_400_000} where id <= 200`)
        database.exec(`update ${tablePrefix}outbox set state = 'sent', sent_at = ${now} where id > 200`)
        queries.length = 0
        assert.equal(await mailOperations(outbox).purgeExpired('test', 3_600_000), 200)
        const plans = queries.filter((q) => PURGE.test(q.sql)).map((q) => planOf(database, [q], PURGE))
        assert.ok(plans.length > 0)
        for (const plan of plans) {
          assert.ok(plan.some((step) => step.includes(`USING INDEX ${tablePrefix}outbox_body_kept`)), plan.join(' | '))
          assert.ok(!plan.some((step) => /TEMP B-TREE|outbox_state/.test(step)), plan.join(' | '))
        }
        const kept = database.prepare(`select count(*) as n from ${tablePrefix}body`).get() as { n: number }
        assert.equal(kept.n, 100, 'the bodies of mail sent within the retention are kept')
      } finally {
        await db.destroy()
      }
    })
  }
})
