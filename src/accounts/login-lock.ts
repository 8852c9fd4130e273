import { addressKey } from '../lib/email-address.ts'

/**
 * Log-ins to one account from anywhere, however many IPs (forgotten at a successful one): over
 * the limit the account refuses log-ins until the window ends, except from a browser that logged
 * in to it before (web/plugins/known-devices.ts). Short, and a password reset lifts it.
 */
export const LOGIN_LOCK = Object.freeze({ name: 'log-in-account', limit: 20, windowMs: 15 * 60_000 })

/** The subject the lock counts under: the account's address key. */
export const loginLockSubject = (email: string) => addressKey(email)

/** The counter's key in `rate_limits`. */
export const loginLockKey = (email: string) => `${LOGIN_LOCK.name}:${loginLockSubject(email)}`
