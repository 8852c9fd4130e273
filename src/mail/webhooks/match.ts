import type { Db } from '../../db/index.ts'
import { normalizeAddress } from '../../lib/email-address.ts'
import type { MessageHints } from './types.ts'

/** States a message a provider reports on can be in (bounced: a second report about it). */
const REPORTED = ['sent', 'sending', 'retrying', 'bounced'] as const
/** A report comes days after the send at most (a deferred message bounces after its retries). */
const LOOK_BACK_MS = 7 * 86_400_000
/** A provider's clock may be a little ahead of ours. */
const SKEW_MS = 5 * 60_000
const CANDIDATES = 50

/**
 * Our message that a provider's report is about, when the report does not quote our Message-ID:
 * among the recipient's messages sent in the week before the event, the one whose stored SMTP
 * answer names the provider's own id (relays that quote it when they accept a message), else —
 * when `guess` — the latest one with the report's subject. Undefined when none fits. A wrong
 * guess could only mark another message to the same address, with the same subject, sent within
 * that week: the suppression is the same address either way.
 */
export async function locateMessage(db: Db, hints: MessageHints, { guess }: { guess: boolean }): Promise<number | undefined> {
  const normal = normalizeAddress(hints.recipient)
  const spellings = [...new Set([hints.recipient.trim(), ...(normal.ok ? [normal.address] : [])])]
  const rows = await db.kysely
    .selectFrom('mail_outbox')
    .select(['id', 'subject', 'last_response', 'sent_at'])
    .where('recipient', 'in', spellings)
    .where('state', 'in', REPORTED)
    .where('updated_at', '>=', hints.at - LOOK_BACK_MS)
    .orderBy('id', 'desc')
    .limit(CANDIDATES)
    .execute()
  const providerId = hints.providerMessageId
  if (providerId && providerId.length >= 8) {
    const named = rows.find((row) => row.last_response?.includes(providerId))
    if (named) return Number(named.id)
  }
  if (!guess || !hints.subject) return undefined
  const subject = hints.subject.trim()
  const fits = rows.find((row) => row.subject.trim() === subject && (row.sent_at === null || row.sent_at <= hints.at + SKEW_MS))
  return fits ? Number(fits.id) : undefined
}
