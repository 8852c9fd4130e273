import type { Kysely, Migration } from 'kysely'
import type { Dialect } from '../index.ts'
import * as m0001 from './0001-mail-outbox.ts'
import * as m0002 from './0002-accounts.ts'
import * as m0003 from './0003-dev-inbox.ts'
import * as m0004 from './0004-mail-operations.ts'
import * as m0005 from './0005-security.ts'
import * as m0006 from './0006-flow-control.ts'
import * as m0007 from './0007-mail-path.ts'

type Step = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> }

/** Numbered steps, applied in order. Never edit a step that has shipped: add the next one. */
const STEPS: Record<string, Step> = {
  '0001-mail-outbox': m0001,
  '0002-accounts': m0002,
  '0003-dev-inbox': m0003,
  '0004-mail-operations': m0004,
  '0005-security': m0005,
  '0006-flow-control': m0006,
  '0007-mail-path': m0007,
}

export function migrations(dialect: Dialect): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(STEPS).map(([name, step]) => [name, { up: (db: Kysely<unknown>) => step.up(db, dialect) }]),
  )
}
