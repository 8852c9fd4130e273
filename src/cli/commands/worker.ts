import type { SmtpConfig } from '../../config/index.ts'
import { outboxFromConfig, workerFromConfig } from '../../mail/index.ts'
import { type CommandContext, fail, onShutdownSignal, openContext } from '../context.ts'

/** The SMTP server to deliver to: MAIL_SERVER, or in development the dev inbox's port. */
export function deliveryTarget({ config }: Pick<CommandContext, 'config'>): SmtpConfig {
  if (config.smtp) return config.smtp
  if (config.production) fail('MAIL_SERVER is not set: set MAIL_SERVER (and MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD) to deliver mail in production')
  return { host: '127.0.0.1', port: config.devSmtpPort, startTls: false, secure: false, username: undefined, password: undefined }
}

/** `ragtime worker`: delivery only, for scale-out; stops gracefully on SIGTERM/SIGINT. */
export async function workerCommand(): Promise<void> {
  const context = await openContext({ migrate: true })
  const { config, logger, db } = context
  const target = deliveryTarget(context)
  const worker = workerFromConfig(config, outboxFromConfig(config, db), logger, target)
  onShutdownSignal(logger, async () => {
    await worker.stop()
    await db.close()
  })
  worker.start()
  logger.info(
    { worker: worker.id, smtp: `${target.host}:${target.port}`, concurrency: config.delivery.concurrency },
    'mail worker started',
  )
}
