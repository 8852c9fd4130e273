// Enqueues one test email every `intervalMs`, each in its own transaction, and prints when each
// was committed (epoch ms, one JSON line). With `in-process`, it also runs the delivery worker,
// as `ragtime serve` does, so each commit wakes it at once; with `none`, a separate
// `ragtime worker` delivers. Runs until SIGTERM.
// Arguments: DATABASE_URL, SMTP port, count, interval ms, in-process | none.
import pino from 'pino'
import { loadConfig } from '../../src/config/index.ts'
import { transaction } from '../../src/db/index.ts'
import { workerFromConfig } from '../../src/mail/index.ts'
import { runSteadily } from '../lib/load.ts'
import { enqueueTestMail, openBenchDatabase } from '../lib/prepare-queue.ts'
import { epochMs } from '../lib/time.ts'

const SETTLE_MS = 1_000

const [databaseUrl, smtpPort, count, intervalMs, worker] = process.argv.slice(2) as [string, string, string, string, string]
const { db, outbox } = await openBenchDatabase(databaseUrl)
const config = loadConfig({ DATABASE_URL: databaseUrl, MAIL_SERVER: '127.0.0.1', MAIL_PORT: smtpPort })
const delivery = worker === 'in-process' ? workerFromConfig(config, outbox, pino({ level: 'warn' })) : undefined
delivery?.start()
// Low load comes after start-up, not during it: give the worker the moment a running app has
// had before its first request (its pool opens its warm connection; the separate worker of the
// PostgreSQL variant has had it since it started).
await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))

const committedAt: number[] = []
await runSteadily(Number(count), Number(intervalMs), async (i) => {
  await transaction(db.kysely, (trx) => enqueueTestMail(outbox, trx, i))
  committedAt.push(epochMs())
})
process.stdout.write(JSON.stringify({ committedAt }) + '\n')

process.on('SIGTERM', async () => {
  await delivery?.stop()
  await db.close()
  process.exit(0)
})
