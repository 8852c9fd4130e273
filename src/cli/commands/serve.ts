import { parseArgs } from 'node:util'
import { outboxFromConfig, workerFromConfig } from '../../mail/index.ts'
import { onShutdownSignal, openContext } from '../context.ts'
import { deliveryTarget } from './worker.ts'

/**
 * `ragtime serve [--no-worker]`: migrates, then runs the in-process mail worker. (The web app
 * joins this command when it lands.)
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'no-worker': { type: 'boolean' } } })
  const context = await openContext({ migrate: true })
  const { config, logger, db } = context
  const worker = values['no-worker'] ? undefined : workerFromConfig(config, outboxFromConfig(config, db), logger, deliveryTarget(context))
  onShutdownSignal(logger, async () => {
    await worker?.stop()
    await db.close()
  })
  worker?.start()
  const database = config.database.kind === 'sqlite' ? config.database.path : 'PostgreSQL'
  const smtp = worker ? deliveryTarget(context) : undefined
  process.stderr.write(
    [
      'Ragtime is running.',
      `  database: ${database}`,
      `  mail:     ${smtp ? `delivered to ${smtp.host}:${smtp.port}` : 'not delivered here (--no-worker)'}`,
      '  stop:     Ctrl-C',
      '',
    ].join('\n'),
  )
}
