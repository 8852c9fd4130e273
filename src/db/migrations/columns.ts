import type { Dialect } from '../index.ts'

/** An auto-incrementing 64-bit key: SQLite's INTEGER PRIMARY KEY, PostgreSQL's bigserial. */
export function idColumn(dialect: Dialect) {
  return dialect === 'sqlite' ? 'integer' : 'bigserial'
}
