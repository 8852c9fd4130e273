import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import type { SmtpConfig } from '../../config/index.ts'
import { integer } from '../../config/parsers.ts'
import { createMetrics, type Metrics } from '../../metrics/index.ts'
import { mailOperations, outboxFromConfig, startRetention, workerFromConfig } from '../../mail/index.ts'
import { type CommandContext, fail, onShutdownSignal, openContext } from '../context.ts'

/** The SMTP server to deliver to: MAIL_SERVER, or in development the dev inbox's port. */
export function deliveryTarget({ config }: Pick<CommandContext, 'config'>): SmtpConfig {
  if (config.smtp) return config.smtp
  if (config.production) fail('MAIL_SERVER is not set: set MAIL_SERVER (and MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD) to deliver mail in production')
  return { host: '127.0.0.1', port: config.devSmtpPort, startTls: false, secure: false, username: undefined, password: undefined }
}

/**
 * `ragtime worker [--metrics-port N]`: delivery only, for scale-out; stops gracefully on
 * SIGTERM/SIGINT. With a metrics port, serves its own `/metrics` (its attempts are counted
 * here, not by the web instances).
 */
export async function workerCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'metrics-port': { type: 'string' } } })
  const metricsPort = values['metrics-port'] === undefined ? undefined : integer(1, 65535).safeParse(values['metrics-port'])
  if (metricsPort && !metricsPort.success) fail('--metrics-port must be a port number (1-65535)', 2)
  const context = await openContext({ migrate: true })
  const { config, logger, db } = context
  const target = deliveryTarget(context)
  const outbox = outboxFromConfig(config, db)
  const worker = workerFromConfig(config, outbox, logger, target)
  const retention = startRetention(mailOperations(db, outbox), config.delivery.retentionMs, logger)
  const metricsServer = metricsPort?.data === undefined ? undefined : await serveMetrics(createMetrics(outbox), config.host, metricsPort.data)
  onShutdownSignal(logger, async () => {
    metricsServer?.close()
    retention.stop()
    await worker.stop()
    await db.close()
  })
  worker.start()
  logger.info(
    { worker: worker.id, smtp: `${target.host}:${target.port}`, concurrency: config.delivery.concurrency },
    'mail worker started',
  )
}

/** A bare HTTP server for `GET /metrics`; everything else is a 404. */
async function serveMetrics(metrics: Metrics, host: string, port: number) {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end()
      return
    }
    metrics.render().then(
      (body) => response.writeHead(200, { 'content-type': metrics.contentType }).end(body),
      () => response.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve)).catch((err: Error) =>
    fail(`the metrics port ${port} could not be opened: ${err.message}`),
  )
  return server
}
