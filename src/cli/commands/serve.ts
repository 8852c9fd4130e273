import { startAccountsMaintenance } from '../../accounts/index.ts'
import { withSecretKey } from '../../config/secret-key.ts'
import { devInboxStore, startCaptureServer } from '../../dev/index.ts'
import { type DeliveryWorker, startRetention, systemClock, workerFromConfig } from '../../mail/index.ts'
import { appDeps } from '../../web/deps.ts'
import { buildServer, listen } from '../../web/server.ts'
import type { Parsed } from '../args.ts'
import { onShutdownSignal, openContext } from '../context.ts'
import { fail } from '../fail.ts'
import type { SERVE } from '../specs.ts'
import { warnAboutSender } from '../sender-warning.ts'
import { bounceReceiverFromConfig } from './bounces.ts'
import { deliveryTarget } from './worker.ts'


/**
 * `ragtime serve [--no-worker]`: migrates, then runs the web app and (by default) the worker;
 * in development without MAIL_SERVER, also the dev inbox's SMTP server.
 */
export async function serve({ values }: Parsed<typeof SERVE>): Promise<void> {
  const context = await openContext({ migrate: true, needs: { baseUrl: true, relay: !values['no-worker'] } })
  const { logger, db } = context
  const config = withSecretKey(context.config)
  warnAboutSender(config, logger)
  // The dashboard and /metrics show this process's worker's relays (the worker is made below).
  const running: { worker?: DeliveryWorker } = {}
  const deps = appDeps(config, db, systemClock, () => running.worker?.relays() ?? [], () => running.worker?.flowStatus())
  const smtp = values['no-worker'] ? undefined : deliveryTarget(context)
  // Development without MAIL_SERVER: catch the mail in this process, over real SMTP.
  const capture =
    config.smtp || config.production
      ? undefined
      : await startCaptureServer({ store: devInboxStore(db), port: config.devSmtpPort, logger }).catch((err: NodeJS.ErrnoException) =>
          fail(
            err.code === 'EADDRINUSE'
              ? `port ${config.devSmtpPort} (the dev inbox's SMTP port) is in use: set RAGTIME_DEV_SMTP_PORT to a free one`
              : `the dev inbox could not start: ${err.message}`,
          ),
        )
  // With RAGTIME_BOUNCE_SMTP_PORT, this process also receives bounces (`ragtime bounces` runs it alone).
  const bounces =
    config.bounceSmtpPort === undefined
      ? undefined
      : await bounceReceiverFromConfig(config, deps.outbox, logger, config.bounceSmtpPort, 'RAGTIME_BOUNCE_SMTP_PORT')
  const worker = smtp ? workerFromConfig(config, deps.outbox, logger, smtp) : undefined
  if (worker) running.worker = worker
  // Retention runs where delivery runs, so a fleet of --no-worker instances does not repeat it.
  const retention = worker && startRetention(deps.operations, config.delivery.retentionMs, logger)
  // Expired unconfirmed accounts, sessions, links and counters: every instance may sweep.
  const maintenance = startAccountsMaintenance(deps.accounts.purgeStale, logger)
  const server = await buildServer(deps, logger)

  const stopListening = await listen(server, config.host, config.port).catch((err: NodeJS.ErrnoException & { address?: string }) =>
    fail(
      err.code === 'EADDRINUSE'
        ? `port ${config.port} (the web server's) is in use${err.address ? ` on ${err.address}` : ''}: set PORT to a free one, or stop what is using it`
        : `the web server could not listen on ${config.host}:${config.port}: ${err.message}`,
    ),
  )
  onShutdownSignal(logger, async () => {
    await stopListening()
    maintenance.stop()
    retention?.stop()
    await worker?.stop()
    await capture?.close()
    await bounces?.close()
    await db.close()
  })
  worker?.start()

  const database = config.database.kind === 'sqlite' ? config.database.path : 'PostgreSQL'
  process.stderr.write(
    [
      '',
      `  Ragtime is running at ${config.baseUrl}`,
      `  database: ${database}`,
      capture
        ? `  mail:     caught by the dev inbox: ${config.baseUrl}/dev/mail (SMTP on 127.0.0.1:${capture.port})`
        : `  mail:     ${
            smtp
              ? `delivered to ${smtp.host}:${smtp.port}${config.smtpFallback ? ` (fallback ${config.smtpFallback.host}:${config.smtpFallback.port})` : ''}`
              : 'delivered by separate workers (--no-worker)'
          }`,
      bounces ? `  bounces:  SMTP on ${config.host}:${bounces.port} for ${config.bounceAddress}` : '',
      config.rateLimits ? '' : '  rate limits: OFF (RAGTIME_RATE_LIMITS=off)',
      config.production && !config.metricsToken ? '  metrics:  /metrics is off (set RAGTIME_METRICS_TOKEN to scrape it)' : '',
      '  stop:     Ctrl-C',
      '',
    ]
      .filter((line, i, all) => line !== '' || i === 0 || i === all.length - 1)
      .join('\n') + '\n',
  )
}
