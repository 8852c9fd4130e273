import { expressionBuilder, type Transaction } from 'kysely'
import type { OutboxTables, Millis } from '../db.ts'
import type { Outcome } from './types.ts'

/**
 * Writes the outcomes; only rows still leased to `workerId` change, and their ids are returned
 * (an outcome for a row another worker took over is not recorded, nor counted). Every `sent`
 * outcome of the group is one UPDATE (the happy path costs one statement per group, not one per
 * message); each failure also goes to the failure log.
 */
export async function recordOutcomes(
  trx: Transaction<OutboxTables>,
  workerId: string,
  outcomes: readonly Outcome[],
  now: Millis,
): Promise<Set<number>> {
  const recorded = new Set<number>()
  // Each `set` object is written out in full rather than spread from a shared one: on Node 20
  // a spread with added properties makes a new hidden class (in the old generation) each time.
  const [first, ...rest] = outcomes.filter((o) => o.kind === 'sent')
  if (first) {
    const response = rest.reduce(
      (chain, o) => chain.when('id', '=', o.id).then(o.response),
      outbox.case().when('id', '=', first.id).then(first.response),
    )
    const updated = await leasedTo(trx, workerId)
      .set({ locked_by: null, locked_until: null, updated_at: now, state: 'sent', sent_at: now, last_response: response.end() })
      .where('id', 'in', [first.id, ...rest.map((o) => o.id)])
      .returning('id')
      .execute()
    for (const row of updated) recorded.add(Number(row.id))
  }
  for (const outcome of outcomes) {
    if (outcome.kind === 'sent') continue
    if (outcome.kind === 'expired') {
      const { numUpdatedRows } = await leasedTo(trx, workerId)
        .where('id', '=', outcome.id)
        .set({
          locked_by: null,
          locked_until: null,
          updated_at: now,
          state: 'expired',
          last_error: EXPIRED.last_error,
          last_failure: null,
          last_smtp_code: null,
          last_smtp_status: null,
        })
        .executeTakeFirst()
      if (numUpdatedRows > 0n) recorded.add(outcome.id)
      continue
    }
    const { smtpCode, smtpStatus } = outcome.reply
    const { numUpdatedRows } = await leasedTo(trx, workerId)
      .where('id', '=', outcome.id)
      .set(
        outcome.kind === 'retry'
          ? {
              locked_by: null,
              locked_until: null,
              updated_at: now,
              state: 'retrying',
              run_at: outcome.runAt,
              last_error: outcome.error,
              last_failure: 'transient',
              last_smtp_code: smtpCode,
              last_smtp_status: smtpStatus,
            }
          : {
              locked_by: null,
              locked_until: null,
              updated_at: now,
              state: 'dead',
              last_error: outcome.error,
              last_failure: outcome.failure === 'permanent' ? 'permanent' : 'gave-up',
              last_smtp_code: smtpCode,
              last_smtp_status: smtpStatus,
            },
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

/** What an expired message's row says: the words, and no failure as data (it was never refused). */
export const EXPIRED = Object.freeze({
  last_error: 'not sent: its deadline passed',
  last_failure: null,
  last_smtp_code: null,
  last_smtp_status: null,
})

/**
 * Made once: this runs for every few messages sent, and an expression builder (what a `set`
 * callback receives) is a function given some thirty properties, a new hidden class each time.
 */
const outbox = expressionBuilder<OutboxTables, 'mail_outbox'>()

/** The rows `workerId` is sending: the only ones whose outcome it may record. */
function leasedTo(trx: Transaction<OutboxTables>, workerId: string) {
  return trx.updateTable('mail_outbox').where('state', '=', 'sending').where('locked_by', '=', workerId)
}
