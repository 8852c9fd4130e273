import { createAccounts } from '../accounts/index.ts'
import type { Config } from '../config/index.ts'
import type { Db } from '../db/index.ts'
import { type Clock, type FlowStatus, mailOperations, outboxFromConfig, type RelayStatus, systemClock } from '../mail/index.ts'
import { createMetrics } from '../metrics/index.ts'
import type { AppDeps } from './types.ts'

/**
 * Wires the outbox, its operations and metrics, and the accounts for the web app from the
 * configuration. `relays` and `flow`: the SMTP relays and the flow control of the worker running
 * in this process, if any (read at each request, so the worker may be made after the app).
 */
export function appDeps(
  config: Config & { readonly secretKey: string },
  db: Db,
  clock: Clock = systemClock,
  relays: () => readonly RelayStatus[] = () => [],
  flow: () => FlowStatus | undefined = () => undefined,
): AppDeps {
  const outbox = outboxFromConfig(config, db, clock)
  const accounts = createAccounts({ db, outbox, clock, baseUrl: config.baseUrl, admin: config.admin, passwordCost: config.passwordCost, mailBudget: config.rateLimits })
  return { config, db, outbox, accounts, clock, operations: mailOperations(outbox), metrics: createMetrics(outbox, relays, flow), relays }
}
