import type { Db } from '../db/index.ts'
import type { Clock, Outbox } from '../mail/index.ts'
import type { AccountMailers } from './mailers.ts'
import type { PasswordHasher } from './passwords.ts'

/** What every account flow works with. */
export interface AccountsContext {
  readonly db: Db
  readonly outbox: Outbox
  readonly mail: AccountMailers
  readonly clock: Clock
  readonly passwords: PasswordHasher
}
