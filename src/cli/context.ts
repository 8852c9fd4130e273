import { type Config, ConfigError, type ConfigNeeds, loadConfig } from '../config/index.ts'
import { type Db, migrateToLatest, openDatabase } from '../db/index.ts'
import { createLogger, type Logger } from '../logger.ts'
import { fail } from './fail.ts'

/** What every command starts from: the configuration, a logger and an open database. */
export interface CommandContext {
  readonly config: Config
  readonly logger: Logger
  readonly db: Db
}

/**
 * Loads the configuration (exiting with one message that lists every problem, including what
 * this command `needs` in production) and opens the database.
 */
export async function openContext({ migrate, needs = {} }: { migrate: boolean; needs?: ConfigNeeds }): Promise<CommandContext> {
  let config: Config
  try {
    config = loadConfig(undefined, undefined, needs) // the environment and working directory of this process
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
  const logger = createLogger(config.logLevel)
  const db = openDatabase(config.database)
  if (migrate) {
    const applied = await migrateToLatest(db)
    if (applied.length > 0) logger.info({ applied }, 'database migrated')
  }
  return { config, logger, db }
}

/**
 * Calls `shutdown` on the first SIGTERM or SIGINT and exits when it is done; a second signal
 * exits at once (leases cover whatever was still claimed).
 */
export function onShutdownSignal(logger: Logger, shutdown: () => Promise<void>): void {
  let stopping = false
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    stopping = true
    logger.info({ signal }, 'shutting down: finishing in-flight mail')
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', handle)
  process.on('SIGINT', handle)
}
