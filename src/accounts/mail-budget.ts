import type { Transaction } from 'kysely'
import { countInWindow, type Database } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'

/**
 * How many account emails one address receives at most, whatever mix of flows, accounts and IPs
 * asks for them (docs/accounts.md, "Security model").
 */
export const MAIL_BUDGET = Object.freeze({ perHour: 5, perDay: 20 })

const WINDOWS = [
  { prefix: 'mail-to-hour', windowMs: 3_600_000, limit: MAIL_BUDGET.perHour },
  { prefix: 'mail-to-day', windowMs: 86_400_000, limit: MAIL_BUDGET.perDay },
] as const

/** Takes one email from `address`'s budget inside `trx` (a rollback gives it back); false when spent. */
export type MailBudget = (trx: Transaction<Database>, address: string, now: number) => Promise<boolean>

/** The budget, counted on the address's key (so every spelling of one mailbox shares it); off lets all through. */
export function mailBudget(enabled: boolean): MailBudget {
  if (!enabled) return async () => true
  return async (trx, address, now) => {
    const key = addressKey(address)
    for (const { prefix, windowMs, limit } of WINDOWS) {
      const { hits } = await countInWindow(trx, `${prefix}:${key}`, windowMs, now)
      if (hits > limit) return false
    }
    return true
  }
}
