import type { Kysely, Transaction } from 'kysely'
import { dialectOf } from './dialect.ts'
import { migrate } from './migrations/index.ts'
import { checkTablePrefix, DEFAULT_TABLE_PREFIX, notifyChannel, TablePrefixPlugin } from './tables.ts'
import { afterCommit, type Db, type Dialect, type NotificationClient, type OutboxTables } from './db.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Email, EmailMessage, TemplateName } from './email.ts'
import { MailInputError } from './errors.ts'
import type { RenderedMail, Renderer } from './render/renderer.ts'
import { MailSignals } from './signals.ts'
import { createOutboxStore, type OutboxRow, type OutboxStore } from './store/index.ts'
import { cancel } from './store/operations.ts'
import { MAIL_PRIORITIES, type MailPriority, type MailState } from './states.ts'

export interface EnqueueOptions {
  /** A second enqueue with the same key, while the first message is live, returns the first. */
  readonly dedupeKey?: string
  /** `high` for mail a person is waiting for, `low` for notices. Default `normal`. */
  readonly priority?: MailPriority
  /** Not before this time. */
  readonly runAt?: Date
  /**
   * The stored message carries something, such as a link, that is void after this time: once
   * the message is finished (sent, dead, cancelled or suppressed) and this time has passed, its
   * stored body is deleted, keeping the row (marked `body_purged_at`), within minutes, long
   * before retention would. A message still waiting to be sent keeps its body (what to do with
   * a late message is the caller's business), and one whose body is gone cannot be retried.
   * Unset: the body follows retention (`retentionMs`, sent mail only).
   */
  readonly bodyExpiresAt?: Date
  /**
   * Not sent from this time on: still unsent then, the message ends `expired` (a reset link
   * delivered after the link died only confuses). Unset: sent however late.
   */
  readonly deadline?: Date
}

export interface OutboxStatus {
  readonly counts: Record<MailState, number>
  /** How long the oldest undelivered message has waited, or null when none waits. */
  readonly oldestWaitingMs: number | null
}

/** `Prefix`: the `tablePrefix` it was created with, which the app's database type uses too. */
export interface Outbox<Templates = Record<string, object>, Prefix extends string = 'mail_'> {
  /**
   * Renders `email` and adds it to the outbox inside the caller's transaction; returns its id.
   * Rolled back: it never existed. Committed: it is delivered or ends `dead`, visibly. Open
   * `trx` with {@link transaction} (or call {@link committed} after your own commit): the
   * commit wakes this process's workers and emits `enqueued`; without either, the mail waits
   * for the workers' poll.
   *
   * ```ts
   * await transaction(db, async (trx) => {
   *   const user = await insertUser(trx, …)
   *   await outbox.enqueue(trx, { template: 'welcome', to: user.email, subject: 'Welcome', context: { name: user.name } })
   * })
   * ```
   */
  enqueue<DB extends OutboxTables<Prefix>, T extends TemplateName<Templates>>(
    trx: Transaction<DB>,
    email: Email<Templates, T>,
    options?: EnqueueOptions,
  ): Promise<number>
  /**
   * Inside the caller's transaction: those of `ids` not sent yet never will be (cancelled);
   * for mail a newer message replaces, such as a confirmation whose link was voided.
   */
  withdraw<DB extends OutboxTables<Prefix>>(trx: Transaction<DB>, ids: readonly number[]): Promise<number>
  /** Creates or updates the outbox's tables (see {@link migrate}); returns the steps applied. */
  migrate(): Promise<string[]>
  /** Renders `email` exactly as enqueue would, without storing it (previews, equal timing). */
  render<T extends TemplateName<Templates>>(email: Email<Templates, T>): Promise<RenderedMail>
  status(): Promise<OutboxStatus>
  list(filter?: { state?: MailState; limit?: number }): Promise<OutboxRow[]>
  get(id: number): Promise<OutboxRow | undefined>
  /** Resolves once message `id` is in one of `states`; for tests and scripts, never for requests. */
  waitFor(id: number, states: MailState | readonly MailState[], options?: { timeoutMs?: number }): Promise<OutboxRow>
  readonly store: OutboxStore
  readonly signals: MailSignals
  readonly clock: Clock
  /** The database the outbox lives in (workers share flow control through it). */
  readonly db: Db
}

export interface OutboxOptions<Prefix extends string = 'mail_'> {
  /** The app's own Kysely instance (better-sqlite3 or pg); its database holds the outbox's tables. */
  readonly db: Kysely<any> // eslint-disable-line @typescript-eslint/no-explicit-any -- any app schema
  /** Found from the Kysely dialect when unset. */
  readonly dialect?: Dialect | undefined
  /** The prefix of the outbox's table names; default `mail_` (`mail_outbox`, `mail_body`, …). */
  readonly tablePrefix?: Prefix | undefined
  /** PostgreSQL: opens a connection for LISTEN (`() => new pg.Client(url)`); unset, workers poll. */
  readonly listen?: (() => NotificationClient) | undefined
  readonly renderer: Renderer
  readonly clock?: Clock
  /** Each message's envelope sender (Return-Path), given its id: a VERP address for bounces. */
  readonly envelopeSender?: ((id: number) => string) | undefined
}

export function createOutbox<Templates = Record<string, object>, Prefix extends string = 'mail_'>(
  options: OutboxOptions<Prefix>,
): Outbox<Templates, Prefix> {
  const { renderer, clock = systemClock, envelopeSender } = options
  const dialect = options.dialect ?? dialectOf(options.db)
  const prefix = checkTablePrefix(options.tablePrefix ?? DEFAULT_TABLE_PREFIX)
  // The queries name the tables with the default prefix; another one is swapped in as they are built.
  const renamed = prefix === DEFAULT_TABLE_PREFIX ? undefined : new TablePrefixPlugin(prefix)
  const ours = <K extends Kysely<OutboxTables>>(kysely: K): K => (renamed ? (kysely.withPlugin(renamed) as K) : kysely)
  const kysely = ours(options.db as Kysely<OutboxTables>)
  const db: Db = { kysely, dialect, listen: options.listen, channel: notifyChannel(prefix), tablePrefix: prefix }
  const store = createOutboxStore(db)
  const signals = new MailSignals()
  const wake = () => signals.emit('wake')

  return {
    store,
    signals,
    clock,
    db,

    async enqueue(app, email, options = {}) {
      // The app's transaction, seen through the outbox's own tables (its database includes them).
      const trx = ours(app as unknown as Transaction<OutboxTables>)
      const now = clock.now()
      const runAt = options.runAt?.getTime() ?? now
      if (!Number.isFinite(runAt)) throw new MailInputError('runAt is not a valid date')
      const expires = options.bodyExpiresAt
      const bodyExpiresAt = expires === undefined ? null : expires instanceof Date ? expires.getTime() : Number.NaN
      if (bodyExpiresAt !== null && !Number.isFinite(bodyExpiresAt)) throw new MailInputError('bodyExpiresAt is not a valid date')
      const deadline = options.deadline === undefined ? null : options.deadline instanceof Date ? options.deadline.getTime() : Number.NaN
      if (deadline !== null && !Number.isFinite(deadline)) throw new MailInputError('deadline is not a valid date')
      if (options.dedupeKey !== undefined && (options.dedupeKey === '' || options.dedupeKey.length > 200)) {
        throw new MailInputError('dedupeKey must be 1 to 200 characters')
      }
      const rendered = await renderer.render(email as EmailMessage, new Date(now))
      const { id, state, created } = await store.insert(trx, {
        template: email.template,
        recipient: rendered.recipient,
        subject: rendered.subject,
        messageId: rendered.messageId,
        envelopeFrom: rendered.envelopeFrom,
        raw: rendered.raw,
        priority: MAIL_PRIORITIES[options.priority ?? 'normal'],
        dedupeKey: options.dedupeKey ?? null,
        bodyExpiresAt,
        expiresAt: deadline,
        runAt,
        now,
      })
      if (!created) return id
      if (envelopeSender) await store.setEnvelopeFrom(trx, id, envelopeSender(id))
      if (state === 'queued') await store.notify(trx)
      afterCommit(app, () => {
        signals.emit('enqueued', { template: email.template, state })
        if (state === 'queued') wake()
      })
      return id
    },

    withdraw: (trx, ids) => cancel(ours(trx as unknown as Transaction<OutboxTables>), ids, clock.now()),

    migrate: () => migrate(options.db, { tablePrefix: prefix, dialect }),

    render: (email) => renderer.render(email as EmailMessage, new Date(clock.now())),

    async status() {
      const [counts, oldest] = await Promise.all([store.counts(), store.oldestWaitingSince()])
      return { counts, oldestWaitingMs: oldest === null ? null : Math.max(0, clock.now() - oldest) }
    },

    list: ({ state, limit = 100 } = {}) => store.list({ ...(state ? { state } : {}), limit }),
    get: (id) => store.get(id),

    async waitFor(id, states, { timeoutMs = 30_000 } = {}) {
      const wanted: readonly MailState[] = typeof states === 'string' ? [states] : states
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const row = await store.get(id)
        if (row && wanted.includes(row.state)) return row
        const left = deadline - Date.now()
        if (left <= 0) {
          throw new Error(`message ${id} did not reach ${wanted.join('|')} in ${timeoutMs} ms (it is ${row?.state ?? 'missing'})`)
        }
        // Woken by a local worker at once; a worker in another process is seen within 25 ms.
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            signals.off('recorded', done)
            resolve()
          }
          const timer = setTimeout(done, Math.min(25, left))
          signals.once('recorded', done)
        })
      }
    },
  }
}
