import { Migrator, sql } from 'kysely'
import type { Db } from './index.ts'
import { migrations } from './migrations/index.ts'

/** Applies every pending migration; returns the names applied now. Throws on the first failure. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  // PostgreSQL: keep the bookkeeping in the schema the app works in (the first on the search
  // path), or Kysely takes another schema's migration table for this one's.
  const schema =
    db.dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db.kysely)).rows[0]?.schema
      : undefined
  const migrator = new Migrator({
    db: db.kysely,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: { getMigrations: async () => migrations(db.dialect) },
    migrationTableName: 'ragtime_migration',
    migrationLockTableName: 'ragtime_migration_lock',
  })
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
