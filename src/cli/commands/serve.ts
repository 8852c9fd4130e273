import { parseArgs } from 'node:util'
import { withSecretKey } from '../../config/secret-key.ts'
import { workerFromConfig } from '../../mail/index.ts'
import { appDeps } from '../../web/deps.ts'
import { buildServer, listen } from '../../web/server.ts'
import { onShutdownSignal, openContext } from '../context.ts'
import { deliveryTarget } from './worker.ts'

/** `ragtime serve [--no-worker]`: migrates, then runs the web app and (by default) the worker. */
export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'no-worker': { type: 'boolean' } } })
  const context = await openContext({ migrate: true })
  const { logger, db } = context
  const config = withSecretKey(context.config)
  const deps = appDeps(config, db)
  const smtp = values['no-worker'] ? undefined : deliveryTarget(context)
  const worker = smtp ? workerFromConfig(config, deps.outbox, logger, smtp) : undefined
  const server = await buildServer(deps, logger)

  const stopListening = await listen(server, config.host, config.port)
  onShutdownSignal(logger, async () => {
    await stopListening()
    await worker?.stop()
    await db.close()
  })
  worker?.start()

  const database = config.database.kind === 'sqlite' ? config.database.path : 'PostgreSQL'
  process.stderr.write(
    [
      '',
      `  Ragtime is running at ${config.baseUrl}`,
      `  database: ${database}`,
      `  mail:     ${smtp ? `delivered to ${smtp.host}:${smtp.port}` : 'delivered by separate workers (--no-worker)'}`,
      config.rateLimits ? '' : '  rate limits: OFF (RAGTIME_RATE_LIMITS=off)',
      '  stop:     Ctrl-C',
      '',
    ]
      .filter((line, i, all) => line !== '' || i === 0 || i === all.length - 1)
      .join('\n') + '\n',
  )
}
