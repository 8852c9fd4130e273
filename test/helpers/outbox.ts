import { after } from 'node:test'
import type { Config } from '../../src/config/index.ts'
import { type Db, transaction } from '../../src/db/index.ts'
import { type Clock, type DeliveryWorker, type EnqueueOptions, type Outbox, outboxFromConfig, workerFromConfig } from '../../src/mail/index.ts'
import { silentLogger, testConfig, testDb } from './env.ts'
import { type SinkOptions, type SmtpSink, startSmtpSink } from './smtp-sink.ts'

export interface Harness {
  config: Config
  db: Db
  outbox: Outbox
  worker: DeliveryWorker
  sink: SmtpSink
  /** Enqueues the test email to `to` in its own committed transaction. */
  send(to: string, options?: EnqueueOptions, sentAt?: string): Promise<number>
}

/** A real SMTP sink, a real SQLite file, an outbox and a worker pointed at the sink. */
export async function harness({
  env = {},
  sink: sinkOptions = {},
  clock,
}: { env?: Record<string, string>; sink?: SinkOptions; clock?: Clock } = {}): Promise<Harness> {
  const sink = await startSmtpSink(sinkOptions)
  const config = testConfig({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port), ...env })
  const db = await testDb(config)
  const outbox = outboxFromConfig(config, db, clock)
  const worker = workerFromConfig(config, outbox, silentLogger)
  // In this order: the worker's pool holds connections the sink would wait for.
  after(async () => {
    await worker.stop({ graceMs: 0 })
    await sink.close()
    await db.close()
  })
  return {
    config,
    db,
    outbox,
    worker,
    sink,
    send: (to, options, sentAt = 'noon') =>
      transaction(db.kysely, (trx) =>
        outbox.enqueue(
          trx,
          { template: 'system/test', to, subject: 'Hello', context: { sentAt, baseUrl: 'http://localhost:3000' } },
          options,
        ),
      ),
  }
}
