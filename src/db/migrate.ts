import { Migrator } from 'kysely'
import type { Db } from './index.ts'
import { migrations } from './migrations/index.ts'

/** Applies every pending migration; returns the names applied now. Throws on the first failure. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => migrations(db.dialect) },
    migrationTableName: 'ragtime_migration',
    migrationLockTableName: 'ragtime_migration_lock',
  })
  const { error, results = [] } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
