import assert from 'node:assert/strict'
import { test } from 'node:test'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, type Migration, Migrator, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { loadConfig } from '../../src/config/index.ts'
import { type Db, migrateToLatest, openDatabase } from '../../src/db/index.ts'
import { migrations } from '../../src/db/migrations/index.ts'
import { ImmediateSqliteDialect } from '../../src/db/sqlite-dialect.ts'
import { runRagtime } from '../helpers/cli.ts'
import { testEnv } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'

/** A fresh database of the test's own (SQLite file or PostgreSQL schema), not migrated. */
function freshDb(env = testEnv()): Db {
  const db = openDatabase(loadConfig(env).database, { poolSize: 2 })
  return db
}

const recorded = async (db: Db) =>
  (await (db.kysely as unknown as Kysely<{ ragtime_migration: { name: string } }>).selectFrom('ragtime_migration').select('name').orderBy('name').execute()).map((r) => r.name)

const ALL = Object.keys(migrations('sqlite')).sort()
/** The engine's own steps, applied after ours (@ragtime/outbox, recorded in mail_migration). */
const OUTBOX = ['@ragtime/outbox:0001-tables', '@ragtime/outbox:0002-failure-columns', '@ragtime/outbox:0003-status-indexes']

test('applies every step once, in order, and a second run applies nothing', async () => {
  const db = freshDb()
  try {
    assert.deepEqual(await migrateToLatest(db), [...ALL, ...OUTBOX])
    assert.deepEqual(await migrateToLatest(db), [])
    assert.deepEqual(await recorded(db), ALL)
    await db.kysely.selectFrom('mail_outbox').select('id').execute()
  } finally {
    await db.close()
  }
})

test('an up-to-date database costs a few queries of its own, none reading the catalog of the whole database', async () => {
  const env = testEnv()
  const location = loadConfig(env).database
  const db = freshDb(env)
  await migrateToLatest(db)
  await db.close()
  // The same database again, through a Kysely instance that logs what it runs.
  const queries: string[] = []
  const log = (event: { query: { sql: string } }) => void queries.push(event.query.sql)
  const kysely =
    location.kind === 'postgres'
      ? new Kysely<never>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: location.url, max: 1 }) }), log })
      : new Kysely<never>({ dialect: new ImmediateSqliteDialect(new SqliteDatabase(location.path)), log })
  try {
    assert.deepEqual(await migrateToLatest({ kysely, dialect: location.kind, close: async () => {} } as unknown as Db), [])
    // Ours and the outbox's: per bookkeeping table a lock (PostgreSQL), begin, create-if-missing, read, commit.
    assert.ok(queries.length <= 10, `${queries.length} queries:\n${queries.join('\n')}`)
    for (const query of queries) assert.doesNotMatch(query, /pg_catalog|information_schema|sqlite_master|sqlite_schema/)
  } finally {
    await kysely.destroy()
  }
})

test('a step that fails leaves nothing behind: not its tables, not the steps before it in the same run', async () => {
  const db = freshDb()
  const steps: Record<string, Migration> = {
    '0001-a': { up: async (k) => void (await k.schema.createTable('first_table').addColumn('id', 'integer').execute()) },
    '0002-b': {
      up: async (k) => {
        await k.schema.createTable('second_table').addColumn('id', 'integer').execute()
        throw new Error('step 0002 broke')
      },
    },
  }
  try {
    await assert.rejects(migrateToLatest(db, steps), /step 0002 broke/)
    for (const table of ['first_table', 'second_table', 'ragtime_migration']) {
      await assert.rejects(sql`select 1 from ${sql.table(table)}`.execute(db.kysely), /no such table|does not exist/, `${table} was rolled back`)
    }
    delete steps['0002-b']
    assert.deepEqual(await migrateToLatest(db, steps), ['0001-a'])
  } finally {
    await db.close()
  }
})

test('a database migrated by an earlier version (Kysely’s Migrator, same bookkeeping) carries on from where it is', async () => {
  const db = freshDb()
  try {
    const [first, second, ...rest] = ALL
    const earlier = Object.fromEntries(Object.entries(migrations(db.dialect)).filter(([name]) => name === first || name === second))
    const schema = db.dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s : undefined
    const migrator = new Migrator({
      db: db.kysely,
      provider: { getMigrations: async () => earlier },
      migrationTableName: 'ragtime_migration',
      migrationLockTableName: 'ragtime_migration_lock',
      ...(schema ? { migrationTableSchema: schema } : {}),
    })
    const { error } = await migrator.migrateToLatest()
    assert.equal(error, undefined)
    assert.deepEqual(await migrateToLatest(db), [...rest, ...OUTBOX])
    assert.deepEqual(await recorded(db), ALL)
  } finally {
    await db.close()
  }
})

test('a database from before the outbox was a package: its mail tables are taken over as they are, failed mail gets its failure as data', async () => {
  const db = freshDb()
  try {
    // Ragtime's own steps only: the mail tables as its migrations made them, with mail in them.
    assert.deepEqual(await migrateToLatest(db, migrations(db.dialect)), ALL)
    const mail = (id: number, state: string, lastError: string) => ({
      id, state, priority: 5, template: 'system/test', recipient: 'ann@example.test', subject: 'Hi', message_id: `<${id}@x>`,
      envelope_from: 'noreply@ragtime.test', attempts: 1, last_error: lastError, created_at: 1, run_at: 1, updated_at: 1,
    })
    await db.kysely
      .insertInto('mail_outbox')
      .values([
        mail(1, 'dead', 'EENVELOPE 550: 550 5.1.1 <ann@example.test>: user unknown'),
        mail(2, 'dead', 'gave up after 12 attempts: EENVELOPE 451: 451 4.4.2 busy'),
        mail(3, 'bounced', 'bounced (dsn) 5.2.2: mailbox full'),
        mail(4, 'retrying', 'ESOCKET: connect ECONNREFUSED 127.0.0.1:25'),
      ])
      .execute()
    assert.deepEqual(await migrateToLatest(db), OUTBOX)
    const rows = await db.kysely.selectFrom('mail_outbox').select(['id', 'last_failure', 'last_smtp_code', 'last_smtp_status']).orderBy('id').execute()
    assert.deepEqual(rows.map((r) => [r.id, r.last_failure, r.last_smtp_code === null ? null : Number(r.last_smtp_code), r.last_smtp_status]), [
      [1, 'permanent', 550, '5.1.1'],
      [2, 'gave-up', 451, '4.4.2'],
      [3, 'bounced', null, '5.2.2'],
      [4, 'transient', null, null],
    ])
  } finally {
    await db.close()
  }
})

test('steps this version does not know (a newer Ragtime migrated the database) stop it, with the names', async () => {
  const db = freshDb()
  try {
    await migrateToLatest(db)
    await (db.kysely as unknown as Kysely<{ ragtime_migration: { name: string; timestamp: string } }>)
      .insertInto('ragtime_migration')
      .values({ name: '9999-from-the-future', timestamp: new Date().toISOString() })
      .execute()
    await assert.rejects(migrateToLatest(db), /migrations this version does not know \(9999-from-the-future\)/)
  } finally {
    await db.close()
  }
})

test('runs started at once on PostgreSQL take turns, even where transactions default to serializable', { skip: ON_POSTGRES ? undefined : 'SQLite: the processes below' }, async () => {
  // Each run its own connection pool, all begun in the same tick: without the lock they would all
  // create the same tables; under serializable, a run that waited would not see what the first applied.
  const location = loadConfig(testEnv()).database
  assert.equal(location.kind, 'postgres')
  const url = new URL(location.url)
  url.searchParams.set('options', `${url.searchParams.get('options') ?? ''} -c default_transaction_isolation=serializable`)
  const env = testEnv({ DATABASE_URL: url.toString() })
  const dbs = [freshDb(env), freshDb(env), freshDb(env), freshDb(env)]
  try {
    const applied = await Promise.all(dbs.map((db) => migrateToLatest(db)))
    // Ours and the outbox's are two transactions: two runs may share the work, each step once.
    assert.deepEqual(applied.flat().sort(), [...ALL, ...OUTBOX].sort())
    for (const names of applied) assert.ok(names.length === 0 || names.join() === ALL.join() || names.join() === OUTBOX.join() || names.join() === [...ALL, ...OUTBOX].join(), names.join())
    assert.deepEqual(await recorded(dbs[0]!), ALL)
  } finally {
    await Promise.all(dbs.map((db) => db.close()))
  }
})

test('processes migrating the same database at once take turns: each step is applied exactly once', async () => {
  const env = testEnv()
  const runs = await Promise.all([1, 2, 3].map(() => runRagtime(['migrate'], env)))
  for (const run of runs) assert.equal(run.code, 0, run.stderr)
  const outputs = runs.map((run) => run.stdout.trim())
  for (const output of outputs) assert.match(output, /^(already up to date|applied: .+)$/)
  const applied = outputs.flatMap((output) => (output.startsWith('applied: ') ? output.slice('applied: '.length).split(', ') : []))
  assert.deepEqual(applied.sort(), [...ALL, ...OUTBOX].sort(), 'each step applied by exactly one process')
  const db = freshDb(env)
  try {
    assert.deepEqual(await recorded(db), ALL)
  } finally {
    await db.close()
  }
})
