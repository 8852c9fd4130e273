import type { Kysely, Transaction } from 'kysely'

type Hook = () => void
// Keyed by the transaction object: Kysely hands the same one to every query of the transaction.
const hooks = new WeakMap<object, Hook[]>()

/**
 * Runs `fn` in a transaction of `db` and, once it has committed, what the outbox deferred to the
 * commit (waking workers in this process, the `enqueued` events). A rollback drops them: mail
 * enqueued in it never existed.
 */
export async function transaction<DB, T>(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  let opened: Transaction<DB> | undefined
  const result = await db.transaction().execute(async (trx) => {
    opened = trx
    return fn(trx)
  })
  if (opened) committed(opened)
  return result
}

/**
 * For an app that runs its own transactions: call this once `trx` has committed. Without it the
 * mail is still delivered, found by the workers' next poll, and no `enqueued` event is emitted.
 */
export function committed(trx: object): void {
  const pending = hooks.get(trx)
  hooks.delete(trx)
  for (const hook of pending ?? []) hook()
}

/** Runs `hook` when `trx` is reported committed (by {@link transaction} or {@link committed}). */
export function afterCommit(trx: object, hook: Hook): void {
  const list = hooks.get(trx)
  if (list) list.push(hook)
  else hooks.set(trx, [hook])
}
