import { migrateToLatest } from '../../db/index.ts'
import type { Parsed } from '../args.ts'
import { openContext } from '../context.ts'
import type { MIGRATE } from '../specs.ts'

/** `ragtime migrate`: applies what the database has not had yet, and says which. */
export async function migrate(_parsed: Parsed<typeof MIGRATE>): Promise<void> {
  const { db } = await openContext({ migrate: false })
  const applied = await migrateToLatest(db)
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n')
  await db.close()
}
