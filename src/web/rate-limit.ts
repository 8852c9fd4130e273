import { LOGIN_LOCK } from '../accounts/login-lock.ts'
import { addressKey, normalizeAddress } from '../lib/email-address.ts'
import { clearWindow, countInWindow, type Db } from '../db/index.ts'

export interface RateRule {
  readonly name: string
  readonly limit: number
  readonly windowMs: number
}

const MINUTES = 60_000
const HOUR = 3_600_000

/**
 * The limits, in one place. Keys are per IP, per address (normalised: see addressLimitKey) or
 * per user as each rule says. docs/accounts.md lists them.
 */
export const RATE_RULES = Object.freeze({
  /** Accepted sign-ups (each creates an account and sends mail); one refused is taken back. */
  signUp: { name: 'sign-up', limit: 10, windowMs: HOUR },
  /** Sign-ups that hash a password (accepted, or refused for a taken username): the work they cost. */
  signUpFromIp: { name: 'sign-up-ip', limit: 30, windowMs: HOUR },
  /** Failed log-ins to one address from one IP: a successful one is taken back. */
  logIn: { name: 'log-in', limit: 10, windowMs: 15 * MINUTES },
  /** Every log-in from one IP, successful or not: each costs a password hash. */
  logInFromIp: { name: 'log-in-ip', limit: 50, windowMs: 15 * MINUTES },
  /** Log-ins to one account from anywhere, forgotten on success (a known device, or a reset, gets past it). */
  logInAccount: LOGIN_LOCK,
  resend: { name: 'resend', limit: 3, windowMs: 15 * MINUTES },
  reset: { name: 'reset', limit: 5, windowMs: HOUR },
  resetAddress: { name: 'reset-address', limit: 3, windowMs: HOUR },
  /** New passwords posted with a reset link (each costs a password hash). */
  resetToken: { name: 'reset-token', limit: 10, windowMs: 15 * MINUTES },
  changeEmail: { name: 'change-email', limit: 3, windowMs: HOUR },
} satisfies Record<string, RateRule>)

/** `windowStart` names the window the hit was counted in (see takeBackHit). */
export type RateVerdict = { ok: true; windowStart: number } | { ok: false; retryAfterSeconds: number }

function verdict(rule: RateRule, hits: number, windowStart: number, now: number): RateVerdict {
  if (hits <= rule.limit) return { ok: true, windowStart }
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + rule.windowMs - now) / 1000)) }
}

/** Counts one hit of `rule` for `subject`; not ok once the window holds more than the limit. */
export async function countHit(db: Db, rule: RateRule, subject: string, now: number): Promise<RateVerdict> {
  const { hits, windowStart } = await countInWindow(db.kysely, `${rule.name}:${subject}`, rule.windowMs, now)
  return verdict(rule, hits, windowStart, now)
}

/**
 * Un-counts one hit that `countHit` let through in the window starting at `windowStart`: the
 * attempt turned out not to be what the rule counts (a log-in that succeeded, a sign-up that was
 * not accepted). Counting first and taking back after keeps a parallel burst bounded: every
 * attempt in flight holds its place until it is known. A window that has since ended (or was
 * forgotten) is left alone, so a take-back never lowers a newer window's count.
 */
export async function takeBackHit(db: Db, rule: RateRule, subject: string, windowStart: number): Promise<void> {
  await db.kysely
    .updateTable('rate_limits')
    .set((eb) => ({ hits: eb('hits', '-', 1) }))
    .where('key', '=', `${rule.name}:${subject}`)
    .where('window_start', '=', windowStart)
    .where('hits', '>', 0)
    .execute()
}

/** Drops `subject`'s count under `rule`. */
export async function forgetHits(db: Db, rule: RateRule, subject: string): Promise<void> {
  await clearWindow(db.kysely, `${rule.name}:${subject}`)
}

/**
 * The key a typed address is counted under: the account's own key, so that every spelling that
 * reaches one account (a fullwidth or soft-hyphenated domain, other case) counts as one.
 */
export function addressLimitKey(input: unknown): string {
  const normal = normalizeAddress(input)
  if (normal.ok) return addressKey(normal.address)
  return typeof input === 'string' ? input.trim().toLowerCase().slice(0, 300) : ''
}
