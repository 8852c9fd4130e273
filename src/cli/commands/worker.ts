import type { SmtpConfig } from '../../config/index.ts'
import { integer } from '../../config/parsers.ts'
import { createMetrics, type Metrics } from '../../metrics/index.ts'
import { mailOperations, outboxFromConfig, startRetention, workerFromConfig } from '../../mail/index.ts'
import { METRICS_CHALLENGE, metricsAccess } from '../../web/metrics-access.ts'
import { limitedHttpServer } from '../../web/server.ts'
import { type Parsed, usageError } from '../args.ts'
import { type CommandContext, onShutdownSignal, openContext } from '../context.ts'
import { fail } from '../fail.ts'
import { WORKER } from '../specs.ts'
import { warnAboutSender } from '../sender-warning.ts'

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
export async function worker({ values }: Parsed<typeof WORKER>): Promise<void> {
  const metricsPort = values['metrics-port'] === undefined ? undefined : integer(1, 65535).safeParse(values['metrics-port'])
  if (metricsPort && !metricsPort.success) usageError(WORKER, '--metrics-port must be a port number (1-65535)')
  const context = await openContext({ migrate: true, needs: { relay: true } })
  const { config, logger, db } = context
  const target = deliveryTarget(context)
  warnAboutSender(config, logger)
  const outbox = outboxFromConfig(config, db)
  const worker = workerFromConfig(config, outbox, logger, target)
  const retention = startRetention(mailOperations(outbox), config.delivery.retentionMs, logger)
  const metricsServer = metricsPort?.data === undefined ? undefined : await serveMetrics(createMetrics(outbox, () => worker.relays(), () => worker.flowStatus()), config, metricsPort.data)
  onShutdownSignal(logger, async () => {
    metricsServer?.close()
    retention.stop()
    await worker.stop()
    await db.close()
  })
  if (metricsServer && config.production && !config.metricsToken) {
    logger.warn('--metrics-port: /metrics answers 404 in production until RAGTIME_METRICS_TOKEN is set')
  }
  worker.start()
  logger.info(
    {
      worker: worker.id,
      smtp: `${target.host}:${target.port}`,
      ...(config.smtpFallback ? { fallback: `${config.smtpFallback.host}:${config.smtpFallback.port}` } : {}),
      concurrency: config.delivery.concurrency,
    },
    'mail worker started',
  )
}

/**
 * A bare HTTP server for `GET /metrics`, under the same access rule as the web app's (the
 * metrics token); everything else is a 404.
 */
async function serveMetrics(metrics: Metrics, config: CommandContext['config'], port: number) {
  const { host } = config
  const server = limitedHttpServer((request, response) => {
    const access = metricsAccess(config, request.headers.authorization)
    if (request.method !== 'GET' || request.url !== '/metrics' || access === 'not_found') {
      response.writeHead(404, { 'cache-control': 'no-store' }).end()
      return
    }
    if (access === 'unauthorized') {
      response.writeHead(401, { 'www-authenticate': METRICS_CHALLENGE, 'cache-control': 'no-store' }).end()
      return
    }
    metrics.render().then(
      (body) => response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(body),
      () => response.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve)).catch((err: NodeJS.ErrnoException) =>
    fail(
      err.code === 'EADDRINUSE'
        ? `port ${port} (the worker's metrics port) is in use: give --metrics-port a free one`
        : `the metrics port ${port} could not be opened: ${err.message}`,
    ),
  )
  return server
}
