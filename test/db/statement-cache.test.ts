import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, test } from 'node:test'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, sql } from 'kysely'
import { ImmediateSqliteDialect, withStatementCache } from '../../src/db/sqlite-dialect.ts'
import { tempDir } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'

/** A real SQLite file whose `prepare` calls are counted, by SQL text. */
function countedDatabase() {
  const database = new SqliteDatabase(path.join(tempDir(), 'cache.sqlite'))
  const prepared: string[] = []
  const prepare = database.prepare.bind(database)
  database.prepare = ((text: string) => {
    prepared.push(text)
    return prepare(text)
  }) as typeof database.prepare
  return { database, prepared }
}

const skip = ON_POSTGRES ? 'the statement cache is SQLite’s (better-sqlite3): checked on the SQLite pass' : undefined

describe('SQLite statement cache', { skip }, () => {
  test('Kysely runs a query of the same text on one prepared statement, in and out of transactions', async () => {
    const { database, prepared } = countedDatabase()
    const db = new Kysely<{ t: { id: number; name: string } }>({ dialect: new ImmediateSqliteDialect(database) })
    try {
      await sql`create table t (id integer primary key, name text not null)`.execute(db)
      for (let i = 1; i <= 20; i++) {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('t').values({ id: i, name: `n${i}` }).execute()
          await trx.updateTable('t').set({ name: `m${i}` }).where('id', '=', i).execute()
        })
      }
      const rows = await db.selectFrom('t').select(['id', 'name']).where('id', '<=', 3).orderBy('id').execute()
      assert.deepEqual(rows, [
        { id: 1, name: 'm1' },
        { id: 2, name: 'm2' },
        { id: 3, name: 'm3' },
      ])
      const times = (prefix: string) => prepared.filter((text) => text.startsWith(prefix)).length
      assert.equal(times('insert into "t"'), 1)
      assert.equal(times('update "t"'), 1)
      assert.equal(times('begin immediate'), 1)
      assert.equal(times('commit'), 1)
    } finally {
      await db.destroy()
    }
  })

  test('keeps the most recently used statements, up to its size', () => {
    const { database, prepared } = countedDatabase()
    const cached = withStatementCache(database, 2)
    try {
      for (const text of ['select 1', 'select 2', 'select 1', 'select 3', 'select 1', 'select 2']) cached.prepare(text)
      // "select 2" was the least recently used when "select 3" came, so it went; "select 1" stayed.
      assert.deepEqual(prepared, ['select 1', 'select 2', 'select 3', 'select 2'])
    } finally {
      cached.close()
    }
  })

  test('a kept statement sees the schema as it is now (SQLite prepares it again after a change)', () => {
    const { database } = countedDatabase()
    const cached = withStatementCache(database)
    try {
      cached.prepare('create table t (a integer)').run([])
      cached.prepare('insert into t (a) values (?)').run([1])
      assert.deepEqual(cached.prepare('select * from t').all([]), [{ a: 1 }])
      cached.prepare('alter table t add column b text').run([])
      cached.prepare('update t set b = ?').run(['added'])
      assert.deepEqual(cached.prepare('select * from t').all([]), [{ a: 1, b: 'added' }])
    } finally {
      cached.close()
    }
    assert.equal(database.open, false, 'close closes the database')
  })
})
