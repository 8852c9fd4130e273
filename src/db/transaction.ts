import type { Kysely, Transaction } from 'kysely'

type Hook = () => void
const hooks = new WeakMap<Transaction<unknown>, Hook[]>()

/**
 * Runs `fn` in a transaction and, once it has committed, the hooks registered on it with
 * {@link afterCommit} (a rollback drops them).
 */
export async function transaction<DB, T>(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const pending: Hook[] = []
  const result = await db.transaction().execute(async (trx) => {
    hooks.set(trx as Transaction<unknown>, pending)
    return fn(trx)
  })
  for (const hook of pending) hook()
  return result
}

/**
 * Runs `hook` after `trx` commits. Returns false when `trx` was not opened by
 * {@link transaction}: the hook is then dropped (the caller falls back to polling).
 */
export function afterCommit(trx: Transaction<unknown>, hook: Hook): boolean {
  const list = hooks.get(trx)
  if (!list) return false
  list.push(hook)
  return true
}
