import { sql } from 'kysely'
import type { NotificationClient } from '../db.ts'
import type { DialectStore } from './types.ts'

/**
 * PostgreSQL: claims lock their rows FOR UPDATE SKIP LOCKED; the enqueueing transaction sends
 * a NOTIFY that is delivered on commit (never for a rollback), and workers LISTEN for it on a
 * connection of their own that reconnects by itself (without `listen`, they poll).
 */
export function postgresDialect(listen: (() => NotificationClient) | undefined, channel: string): DialectStore {
  return {
    skipLocked: true,
    async notify(trx) {
      await sql`select pg_notify(${channel}, '')`.execute(trx)
    },
    subscribe: (onWake, onError) => (listen ? subscribe(listen, channel, onWake, onError) : async () => {}),
  }
}

/** LISTENs on a dedicated connection; after a lost connection, reconnects with back-off and wakes once. */
function subscribe(open: () => NotificationClient, channel: string, onWake: () => void, onError: (err: unknown) => void): () => Promise<void> {
  let client: NotificationClient | undefined
  let closed = false
  let failures = 0
  let timer: NodeJS.Timeout | undefined

  const connect = async () => {
    if (closed) return
    const next = open()
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
      await next.query(`LISTEN ${channel}`)
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
