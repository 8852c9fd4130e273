// The outbox worker draining a prepared SQLite file until nothing is due. Prints {rate, cpuUsPerMessage, maxRssMb}.
import pino from 'pino'
import { loadConfig } from '../../src/config/index.ts'
import { openDatabase } from '../../src/db/index.ts'
import { outboxFromConfig, workerFromConfig } from '../../src/mail/index.ts'
import { startTimer } from '../lib/time.ts'

const [file, port, concurrency] = process.argv.slice(2) as [string, string, string]
const config = loadConfig({
  DATABASE_URL: `sqlite:${file}`,
  MAIL_SERVER: '127.0.0.1',
  MAIL_PORT: port,
  RAGTIME_MAIL_CONCURRENCY: concurrency,
  // Exactly this many connections, as the baselines have.
  RAGTIME_MAIL_MAX_CONNECTIONS: concurrency,
  RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
})
const db = openDatabase(config.database)
const outbox = outboxFromConfig(config, db)
const before = (await outbox.status()).counts.queued
const worker = workerFromConfig(config, outbox, pino({ level: 'warn' }))
const timer = startTimer()
const idle = worker.whenIdle()
worker.start()
await idle
const timed = timer.stop(before)
await worker.stop()
const sent = (await outbox.status()).counts.sent
await db.close()
if (sent !== before) throw new Error(`drained ${sent} of ${before}`)
process.stdout.write(JSON.stringify({ ...timed, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n')
