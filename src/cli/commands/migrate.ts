import { migrateToLatest } from '../../db/index.ts'
import { parseCommand } from '../args.ts'
import { openContext } from '../context.ts'

export const MIGRATE_USAGE = `usage: ragtime migrate

Applies the database migrations that DATABASE_URL's database has not had yet, and says which
(serve and worker also do it as they start). Safe to run again: "already up to date".

Options:
  -h, --help  show this help

Example:
  DATABASE_URL=postgres://ragtime@db/ragtime ragtime migrate`

export async function migrateCommand(args: string[]): Promise<void> {
  if (!parseCommand(args, { name: 'migrate', usage: MIGRATE_USAGE, options: {} })) return
  const { db } = await openContext({ migrate: false })
  const applied = await migrateToLatest(db)
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n')
  await db.close()
}
