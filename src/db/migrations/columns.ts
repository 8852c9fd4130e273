import type { Kysely } from 'kysely'
import type { Dialect } from '../index.ts'

/**
 * `create table <name>` with an auto-incrementing 64-bit key `id`: SQLite's INTEGER PRIMARY KEY
 * AUTOINCREMENT (ids never reused), PostgreSQL's bigserial.
 */
export function createTableWithId(db: Kysely<unknown>, table: string, dialect: Dialect) {
  return db.schema
    .createTable(table)
    .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
}
