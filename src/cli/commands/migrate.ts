import { migrateToLatest } from '../../db/index.ts'
import { openContext } from '../context.ts'

export async function migrateCommand(): Promise<void> {
  const { db } = await openContext({ migrate: false })
  const applied = await migrateToLatest(db)
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n')
  await db.close()
}
