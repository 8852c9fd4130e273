import { sql } from 'kysely'
import pg from 'pg'
import { claimDue } from './claim.ts'
import { recordOutcomes } from './record.ts'
import type { DialectStore, OutboxDb } from './types.ts'

const CHANNEL = 'ragtime_mail'

/**
 * PostgreSQL: claims lock their rows FOR UPDATE SKIP LOCKED; the enqueueing transaction sends
 * a NOTIFY that is delivered on commit (never for a rollback), and workers LISTEN for it on a
 * connection of their own that reconnects by itself.
 */
export function postgresStore(db: OutboxDb, url: string): DialectStore {
  return {
    claim: (workerId, now, leaseUntil, limit, maxPriority) =>
      claimDue(db, { workerId, now, leaseUntil, limit, skipLocked: true, maxPriority }),
    record: (workerId, outcomes, now) => db.transaction().execute((trx) => recordOutcomes(trx, workerId, outcomes, now)),
    async notify(trx) {
      await sql`select pg_notify(${CHANNEL}, '')`.execute(trx)
    },
    subscribe: (onWake, onError) => listen(url, onWake, onError),
  }
}

/** LISTENs on a dedicated connection; after a lost connection, reconnects with back-off and wakes once. */
function listen(url: string, onWake: () => void, onError: (err: unknown) => void): () => Promise<void> {
  let client: pg.Client | undefined
  let closed = false
  let failures = 0
  let timer: NodeJS.Timeout | undefined

  const connect = async () => {
    if (closed) return
    const next = new pg.Client({ connectionString: url })
    client = next
    let lost = false
    const reconnect = (err?: unknown) => {
      if (lost || closed) return
      lost = true
      if (err) onError(err)
      next.removeAllListeners('notification')
      void next.end().catch(() => {})
      timer = setTimeout(() => void connect(), Math.min(5_000, 100 * 2 ** failures++))
    }
    next.on('error', reconnect)
    next.on('end', () => reconnect())
    next.on('notification', () => onWake())
    try {
      await next.connect()
      await next.query(`LISTEN ${CHANNEL}`)
      failures = 0
      // Whatever was committed while nobody listened.
      onWake()
    } catch (err) {
      reconnect(err)
    }
  }
  void connect()

  return async () => {
    closed = true
    clearTimeout(timer)
    await client?.end().catch(() => {})
  }
}
