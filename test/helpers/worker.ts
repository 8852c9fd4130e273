import type { Config } from '../../src/config/index.ts'
import { DeliveryWorker, outboxFromConfig, smtpTransport } from '../../src/mail/index.ts'
import { silentLogger, testDb } from './env.ts'

/** An outbox and an SMTP worker over `config`'s database; the caller stops and closes them. */
export async function harnessWorker(config: Config) {
  const db = await testDb(config)
  const outbox = outboxFromConfig(config, db)
  if (!config.smtp) throw new Error('the test must set MAIL_SERVER')
  const transport = smtpTransport({ ...config.smtp, maxConnections: config.delivery.maxConnections, initialLimit: 0 })
  const worker = new DeliveryWorker({ outbox, transport, delivery: config.delivery, logger: silentLogger })
  return { db, outbox, worker }
}
