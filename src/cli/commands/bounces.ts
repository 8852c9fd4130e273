import type { Config } from '../../config/index.ts'
import { integer } from '../../config/parsers.ts'
import { withSecretKey } from '../../config/secret-key.ts'
import type { Logger } from '../../logger.ts'
import { type BounceReceiver, type Outbox, outboxFromConfig, startBounceReceiver, systemClock, verpFromConfig } from '../../mail/index.ts'
import { type Parsed, usageError } from '../args.ts'
import { onShutdownSignal, openContext } from '../context.ts'
import { fail } from '../fail.ts'
import { BOUNCES, DEFAULT_BOUNCE_PORT } from '../specs.ts'



/**
 * The bounce receiver as configured, or a message saying what is missing; `setting` names what
 * chose the port, for the message when it is in use.
 */
export async function bounceReceiverFromConfig(config: Config, outbox: Outbox, logger: Logger, port: number, setting: string): Promise<BounceReceiver> {
  const verp = verpFromConfig(config)
  if (!config.bounceAddress || !verp) fail('RAGTIME_BOUNCE_ADDRESS is not set: set it (e.g. bounces@mail.example.com) to receive bounces')
  return startBounceReceiver({ outbox, clock: systemClock, logger, bounceAddress: config.bounceAddress, verp, host: config.host, port }).catch(
    (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'EADDRINUSE'
          ? `port ${port} (the bounce receiver's) is in use: set ${setting} to a free one`
          : `the bounce receiver could not start on ${config.host}:${port}: ${err.message}`,
      ),
  )
}

/** `ragtime bounces [--port N]`: the bounce receiver alone, for scale-out. */
export async function bounces({ values }: Parsed<typeof BOUNCES>): Promise<void> {
  const port = values.port === undefined ? undefined : integer(0, 65535).safeParse(values.port)
  if (port && !port.success) usageError(BOUNCES, '--port must be a port number (0-65535)')
  const context = await openContext({ migrate: true })
  const { logger, db } = context
  const config = withSecretKey(context.config)
  const [chosen, setting] =
    port?.data !== undefined
      ? [port.data, '--port']
      : config.bounceSmtpPort !== undefined
        ? [config.bounceSmtpPort, 'RAGTIME_BOUNCE_SMTP_PORT (or --port)']
        : [DEFAULT_BOUNCE_PORT, '--port or RAGTIME_BOUNCE_SMTP_PORT']
  const receiver = await bounceReceiverFromConfig(config, outboxFromConfig(config, db), logger, chosen, setting)
  onShutdownSignal(logger, async () => {
    await receiver.close()
    await db.close()
  })
  logger.info({ address: config.bounceAddress, host: config.host, port: receiver.port }, 'bounce receiver started')
}
