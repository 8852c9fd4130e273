import type { Transaction } from 'kysely'
import type { Database, Millis } from '../../db/index.ts'
import type { Outcome } from './types.ts'

/**
 * Writes the outcomes; only rows still leased to `workerId` change, and their ids are returned
 * (an outcome for a row another worker took over is not recorded, nor counted). Every `sent`
 * outcome of the group is one UPDATE (the happy path costs one statement per group, not one per
 * message); each failure also goes to the failure log.
 */
export async function recordOutcomes(
  trx: Transaction<Database>,
  workerId: string,
  outcomes: readonly Outcome[],
  now: Millis,
): Promise<Set<number>> {
  const recorded = new Set<number>()
  const mine = () =>
    trx.updateTable('mail_outbox').where('state', '=', 'sending').where('locked_by', '=', workerId)
  const unlocked = { locked_by: null, locked_until: null, updated_at: now }
  const [first, ...rest] = outcomes.filter((o) => o.kind === 'sent')
  if (first) {
    const updated = await mine()
      .set((eb) => {
        const response = rest.reduce(
          (chain, o) => chain.when('id', '=', o.id).then(o.response),
          eb.case().when('id', '=', first.id).then(first.response),
        )
        return { ...unlocked, state: 'sent', sent_at: now, last_response: response.end() }
      })
      .where('id', 'in', [first.id, ...rest.map((o) => o.id)])
      .returning('id')
      .execute()
    for (const row of updated) recorded.add(Number(row.id))
  }
  for (const outcome of outcomes) {
    if (outcome.kind === 'sent') continue
    const { numUpdatedRows } = await mine()
      .where('id', '=', outcome.id)
      .set(
        outcome.kind === 'retry'
          ? { ...unlocked, state: 'retrying', run_at: outcome.runAt, last_error: outcome.error }
          : { ...unlocked, state: 'dead', last_error: outcome.error },
      )
      .executeTakeFirst()
    if (numUpdatedRows === 0n) continue
    recorded.add(outcome.id)
    await trx
      .insertInto('mail_failures')
      .values({
        outbox_id: outcome.id,
        template: outcome.template,
        kind: outcome.kind === 'retry' ? 'transient' : outcome.failure,
        error: outcome.error,
        at: now,
      })
      .execute()
    if (outcome.kind === 'dead' && outcome.suppress) {
      await trx
        .insertInto('mail_suppression')
        .values({ address: outcome.suppress, reason: outcome.error, outbox_id: outcome.id, created_at: now })
        .onConflict((oc) => oc.column('address').doNothing())
        .execute()
    }
  }
  return recorded
}
