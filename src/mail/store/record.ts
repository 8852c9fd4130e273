import type { Transaction } from 'kysely'
import type { Database, Millis } from '../../db/index.ts'
import type { Outcome } from './types.ts'

/** Writes each outcome; only rows still leased to `workerId` change. */
export async function recordOutcomes(
  trx: Transaction<Database>,
  workerId: string,
  outcomes: readonly Outcome[],
  now: Millis,
): Promise<void> {
  for (const outcome of outcomes) {
    const mine = trx
      .updateTable('mail_outbox')
      .where('id', '=', outcome.id)
      .where('state', '=', 'sending')
      .where('locked_by', '=', workerId)
    const unlocked = { locked_by: null, locked_until: null, updated_at: now }
    if (outcome.kind === 'sent') {
      await mine.set({ ...unlocked, state: 'sent', sent_at: now, last_response: outcome.response }).execute()
    } else if (outcome.kind === 'retry') {
      await mine.set({ ...unlocked, state: 'retrying', run_at: outcome.runAt, last_error: outcome.error }).execute()
    } else {
      await mine.set({ ...unlocked, state: 'dead', last_error: outcome.error }).execute()
      if (outcome.suppress) {
        await trx
          .insertInto('mail_suppression')
          .values({ address: outcome.suppress, reason: outcome.error, outbox_id: outcome.id, created_at: now })
          .onConflict((oc) => oc.column('address').doNothing())
          .execute()
      }
    }
  }
}
