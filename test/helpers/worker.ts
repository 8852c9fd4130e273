import type { Config } from '../../src/config/index.ts'
import { outboxFromConfig, workerFromConfig } from '../../src/mail/index.ts'
import { silentLogger, testDb } from './env.ts'

/** An outbox and an SMTP worker over `config`'s database; the caller stops and closes them. */
export async function harnessWorker(config: Config) {
  const db = await testDb(config)
  const outbox = outboxFromConfig(config, db)
  const worker = workerFromConfig(config, outbox, silentLogger)
  return { db, outbox, worker }
}
