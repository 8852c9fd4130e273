import { sql } from 'kysely'
import type { Db } from '../db/index.ts'

export interface RateRule {
  readonly name: string
  readonly limit: number
  readonly windowMs: number
}

/** The limits, in one place. Keys are per IP, per address or per user as each rule says. */
export const RATE_RULES = Object.freeze({
  signUp: { name: 'sign-up', limit: 10, windowMs: 3_600_000 },
  logIn: { name: 'log-in', limit: 10, windowMs: 15 * 60_000 },
  logInFromIp: { name: 'log-in-ip', limit: 50, windowMs: 15 * 60_000 },
  resend: { name: 'resend', limit: 3, windowMs: 15 * 60_000 },
  reset: { name: 'reset', limit: 5, windowMs: 3_600_000 },
  resetAddress: { name: 'reset-address', limit: 3, windowMs: 3_600_000 },
} satisfies Record<string, RateRule>)

export type RateVerdict = { ok: true } | { ok: false; retryAfterSeconds: number }

/**
 * Counts one hit of `rule` for `subject` in a fixed window kept in the database, so every
 * instance shares it. One statement: safe under concurrency on SQLite and PostgreSQL.
 */
export async function countHit(db: Db, rule: RateRule, subject: string, now: number): Promise<RateVerdict> {
  const expired = now - rule.windowMs
  const row = await db.kysely
    .insertInto('rate_limits')
    .values({ key: `${rule.name}:${subject}`, window_start: now, hits: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        hits: sql<number>`case when rate_limits.window_start <= ${expired} then 1 else rate_limits.hits + 1 end`,
        window_start: sql<number>`case when rate_limits.window_start <= ${expired} then ${now} else rate_limits.window_start end`,
      }),
    )
    .returning(['hits', 'window_start'])
    .executeTakeFirstOrThrow()
  if (row.hits <= rule.limit) return { ok: true }
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((Number(row.window_start) + rule.windowMs - now) / 1000)) }
}
