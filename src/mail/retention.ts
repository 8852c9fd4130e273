import type { Logger } from 'pino'
import type { MailOperations } from './operations.ts'

const EVERY_MS = 3_600_000

/**
 * Purges the stored message of sent mail older than `retentionMs` now and every hour, keeping
 * the rows. Runs beside each worker: concurrent purges on one database only share the work.
 */
export function startRetention(operations: MailOperations, retentionMs: number, logger: Logger): { stop(): void } {
  const sweep = async () => {
    try {
      const purged = await operations.purgeExpired('retention', retentionMs)
      if (purged > 0) logger.info({ purged, retentionMs }, 'purged the bodies of old sent mail')
    } catch (err) {
      logger.error({ err }, 'retention sweep failed; will try again in an hour')
    }
  }
  const first = setTimeout(() => void sweep(), 5_000)
  const timer = setInterval(() => void sweep(), EVERY_MS)
  first.unref()
  timer.unref()
  return {
    stop() {
      clearTimeout(first)
      clearInterval(timer)
    },
  }
}
