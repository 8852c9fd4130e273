import type { DialectStore } from './types.ts'

/** SQLite: one writer at a time, so a claim needs no row locks; other processes poll. */
export function sqliteDialect(): DialectStore {
  return {
    skipLocked: false,
    async notify() {
      // Other SQLite processes find new mail by polling; this process is woken after commit.
    },
    subscribe: () => async () => {},
  }
}
