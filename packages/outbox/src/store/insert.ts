import { sql, type Transaction } from 'kysely'
import { addressKey } from '../address.ts'
import type { OutboxTables } from '../db.ts'
import { LIVE_STATES, type MailState } from '../states.ts'
import type { NewMail } from './types.ts'

/**
 * Adds a rendered message inside the caller's transaction: `suppressed` at once when its address
 * is on the suppression list. `created` is false when a live message with the same dedupe key
 * is returned instead.
 */
export async function insertMail(trx: Transaction<OutboxTables>, mail: NewMail): Promise<{ id: number; state: MailState; created: boolean }> {
  const suppressed = await trx
    .selectFrom('mail_suppression')
    .select('address')
    .where('address', '=', addressKey(mail.recipient))
    .executeTakeFirst()
  const state: MailState = suppressed ? 'suppressed' : 'queued'
  const inserted = await trx
    .insertInto('mail_outbox')
    .values({
      state,
      priority: mail.priority,
      template: mail.template,
      recipient: mail.recipient,
      subject: mail.subject,
      message_id: mail.messageId,
      envelope_from: mail.envelopeFrom,
      dedupe_key: mail.dedupeKey,
      body_expires_at: mail.bodyExpiresAt,
      expires_at: mail.expiresAt,
      created_at: mail.now,
      run_at: mail.runAt,
      updated_at: mail.now,
    })
    .onConflict((oc) =>
      // The index predicate must be spelled with literals to match the partial index.
      oc.column('dedupe_key').where(sql.ref('state'), 'in', LIVE_STATES.map((s) => sql.lit(s))).doNothing(),
    )
    .returning('id')
    .executeTakeFirst()
  if (inserted) {
    // Number(): PostgreSQL's driver returns bigint ids as strings.
    const id = Number(inserted.id)
    await trx.insertInto('mail_body').values({ outbox_id: id, raw: mail.raw }).execute()
    return { id, state, created: true }
  }
  // The key is taken by a live message: that message is the answer. The states are literals, so
  // that SQLite reads the dedupe index (whose WHERE they imply) instead of every sent message.
  const existing = await trx
    .selectFrom('mail_outbox')
    .select(['id', 'state'])
    .where('dedupe_key', '=', mail.dedupeKey)
    .where('state', 'in', LIVE_STATES.map((s) => sql.lit(s)))
    .executeTakeFirstOrThrow()
  return { id: Number(existing.id), state: existing.state as MailState, created: false }
}

/** The envelope sender of a message just inserted (its VERP address, which needs its id). */
export async function setEnvelopeFrom(trx: Transaction<OutboxTables>, id: number, envelopeFrom: string): Promise<void> {
  await trx.updateTable('mail_outbox').set({ envelope_from: envelopeFrom }).where('id', '=', id).execute()
}
