import type { Logger } from './options.ts'
import type { MailOperations } from './operations.ts'

const EVERY_MS = 3_600_000

/**
 * How often expired bodies (EnqueueOptions.bodyExpiresAt) are looked for: a body is gone within
 * this long of its expiry, once its message is finished. A sweep that finds nothing is one read
 * of a partial index, and takes no write lock.
 */
export const EXPIRED_BODIES_EVERY_MS = 300_000

export interface RetentionOptions {
  /** How often the expired-body sweep runs; {@link EXPIRED_BODIES_EVERY_MS} by default. */
  readonly expiredBodiesEveryMs?: number
  /** Delay before the first sweeps; 5 s by default. */
  readonly firstAfterMs?: number
}

/**
 * Purges, keeping the rows: the stored message of sent mail older than `retentionMs`, now and
 * every hour; and that of finished mail whose body has expired (`bodyExpiresAt`), now and every
 * five minutes. Runs beside each worker: concurrent purges on one database only share the work.
 */
export function startRetention(
  operations: MailOperations,
  retentionMs: number,
  logger: Logger,
  { expiredBodiesEveryMs = EXPIRED_BODIES_EVERY_MS, firstAfterMs = 5_000 }: RetentionOptions = {},
): { stop(): void } {
  const sweep = async () => {
    try {
      const purged = await operations.purgeExpired('retention', retentionMs)
      if (purged > 0) logger.info({ purged, retentionMs }, 'purged the bodies of old sent mail')
    } catch (err) {
      logger.error({ err }, 'retention sweep failed; will try again in an hour')
    }
  }
  let expiring: Promise<void> | undefined
  const sweepExpired = () => {
    // One at a time: a slow database must not stack sweeps up.
    expiring ??= (async () => {
      try {
        const expired = await operations.expireOverdue()
        if (expired > 0) logger.info({ expired }, 'mail past its deadline expired unsent')
        const purged = await operations.purgeExpiredBodies('retention')
        if (purged > 0) logger.info({ purged }, 'purged the bodies of finished mail past their expiry')
      } catch (err) {
        logger.error({ err }, 'expired-body sweep failed; will try again')
      } finally {
        expiring = undefined
      }
    })()
  }
  const first = setTimeout(() => {
    void sweep()
    sweepExpired()
  }, firstAfterMs)
  const timer = setInterval(() => void sweep(), EVERY_MS)
  const expiredTimer = setInterval(sweepExpired, expiredBodiesEveryMs)
  first.unref()
  timer.unref()
  expiredTimer.unref()
  return {
    stop() {
      clearTimeout(first)
      clearInterval(timer)
      clearInterval(expiredTimer)
    },
  }
}
