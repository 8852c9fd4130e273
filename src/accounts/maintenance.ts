import type { Logger } from 'pino'
import { purgeWindows, transaction } from '../db/index.ts'
import type { AccountsContext } from './context.ts'
import { deleteUnconfirmed } from './unconfirmed.ts'

/** An account that has not confirmed its address within this is deleted (docs/accounts.md). */
export const UNCONFIRMED_LIFETIME_MS = 7 * 86_400_000
/** Used and expired links are kept this long after expiry (a late click still gets a clear page), then deleted. */
const EXPIRED_TOKEN_GRACE_MS = 7 * 86_400_000
/** The longest rate-limit window (the daily mail budget): older counters count nothing. */
const LONGEST_WINDOW_MS = 86_400_000
const BATCH = 500

export interface PurgeSummary {
  readonly accounts: number
  readonly sessions: number
  readonly tokens: number
  readonly counters: number
}

/** Deletes what has expired: unconfirmed accounts, sessions, links and rate-limit counters. */
export async function purgeStale(ctx: AccountsContext): Promise<PurgeSummary> {
  const now = ctx.clock.now()
  const db = ctx.db.kysely
  let accounts = 0
  for (;;) {
    const stale = await db
      .selectFrom('users')
      .select('id')
      .where('confirmed_at', 'is', null)
      .where('created_at', '<', now - UNCONFIRMED_LIFETIME_MS)
      .limit(BATCH)
      .execute()
    for (const { id } of stale) {
      if (await transaction(db, (trx) => deleteUnconfirmed(ctx, trx, Number(id)))) accounts++
    }
    if (stale.length < BATCH) break
  }
  const sessions = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst()
  const tokens = await db.deleteFrom('account_tokens').where('expires_at', '<=', now - EXPIRED_TOKEN_GRACE_MS).executeTakeFirst()
  const counters = await purgeWindows(db, now - LONGEST_WINDOW_MS)
  return { accounts, sessions: Number(sessions.numDeletedRows), tokens: Number(tokens.numDeletedRows), counters }
}

const EVERY_MS = 3_600_000

/** Runs {@link purgeStale} soon after start-up and every hour; every instance may run it (deletes only share the work). */
export function startAccountsMaintenance(purge: () => Promise<PurgeSummary>, logger: Logger): { stop(): void } {
  const sweep = async () => {
    try {
      const purged = await purge()
      if (Object.values(purged).some((n) => n > 0)) logger.info(purged, 'purged expired accounts data')
    } catch (err) {
      logger.error({ err }, 'accounts maintenance failed; will try again in an hour')
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
