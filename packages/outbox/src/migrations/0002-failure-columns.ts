import type { Kysely } from 'kysely'
import type { Dialect } from '../db.ts'
import { ENHANCED_STATUS } from '../smtp-status.ts'

/**
 * What the last failure was, as data rather than words: its kind (`transient`, `permanent`,
 * `gave-up`, `bounced`), the SMTP reply code and the enhanced status (RFC 3463), so that an app
 * can tell its users what happened without parsing `last_error`. Finished mail that failed before
 * this step is filled in from its `last_error`, as far as that text says.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- DDL by name
export async function up(db: Kysely<any>, _dialect: Dialect, p: string): Promise<void> {
  const outbox = p + 'outbox'
  await db.schema.alterTable(outbox).addColumn('last_failure', 'text').execute()
  await db.schema.alterTable(outbox).addColumn('last_smtp_code', 'integer').execute()
  await db.schema.alterTable(outbox).addColumn('last_smtp_status', 'text').execute()

  const rows: { id: number; state: string; last_error: string }[] = await db
    .selectFrom(outbox)
    .select(['id', 'state', 'last_error'])
    .where('state', 'in', ['retrying', 'dead', 'bounced'])
    .where('last_error', 'is not', null)
    .execute()
  for (const row of rows) {
    const error = row.last_error
    // `EENVELOPE 550: 550 5.1.1 …`, perhaps after `gave up after N attempts: ` (see classifyFailure);
    // a status only from a server's reply or a report, never from other text (an IP address).
    const reply = /^(?:gave up after \d+ attempts: )?(?:[A-Z]+ )?([245]\d\d)\b(.*)$/.exec(error)
    const code = reply?.[1]
    const status = reply ? ENHANCED_STATUS.exec(reply[2] ?? '') : row.state === 'bounced' ? ENHANCED_STATUS.exec(error) : null
    const kind = row.state === 'bounced' ? 'bounced' : row.state === 'retrying' ? 'transient' : error.startsWith('gave up') ? 'gave-up' : 'permanent'
    await db
      .updateTable(outbox)
      .set({ last_failure: kind, last_smtp_code: code === undefined ? null : Number(code), last_smtp_status: status ? `${status[1]}.${Number(status[2])}.${Number(status[3])}` : null })
      .where('id', '=', row.id)
      .execute()
  }
}
