import type { FeedbackReport } from '@ragtime/outbox'
import {
  dateOr,
  describe,
  enhancedStatus,
  header,
  malformed,
  parseObject,
  sameSecret,
  str,
  unverified,
  type WebhookInput,
  type WebhookProvider,
  type WebhookVerdict,
} from './types.ts'

/** Postmark's bounce types that mean the address cannot take mail, and those that are only a delay. */
const PERMANENT = new Set(['HardBounce', 'BadEmailAddress'])
const TRANSIENT = new Set(['Transient', 'SoftBounce', 'DnsError'])

/**
 * Postmark's webhooks. Postmark signs nothing: it documents HTTP Basic credentials in the webhook
 * URL (`https://user:password@host/webhooks/mail/postmark`, or the webhook's HttpAuth), which it
 * sends as `Authorization: Basic`. The secret is that `user:password`, compared in constant time.
 * There is no signed timestamp, so a replayed request cannot be told from Postmark's own retry:
 * the event's `ID` makes both count once.
 *
 * Records: `RecordType: Bounce` with `Type` HardBounce or BadEmailAddress is a bounce, Transient,
 * SoftBounce or DnsError a delay (other types, such as AutoResponder, are ignored);
 * `RecordType: SpamComplaint` is a complaint. `MessageID` is Postmark's own id, not our
 * Message-ID, so the message is found from `Email`, `Subject` and the time (see match.ts).
 */
export function postmark(secret: string): WebhookProvider {
  const colon = secret.indexOf(':')
  if (colon <= 0 || colon === secret.length - 1) {
    throw new Error('RAGTIME_WEBHOOK_POSTMARK_SECRET must be user:password, the HTTP Basic credentials of the webhook URL')
  }
  return {
    name: 'postmark',
    receive(input: WebhookInput): WebhookVerdict {
      const match = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header(input, 'authorization') ?? '')
      const given = match?.[1] ? Buffer.from(match[1], 'base64') : Buffer.alloc(0)
      if (!sameSecret(given, secret)) return unverified('The webhook credentials are wrong.')

      const record = parseObject(input.body)
      if (!record) return malformed('The body is not a JSON object.')
      const type = str(record.Type)
      const kind =
        record.RecordType === 'SpamComplaint'
          ? 'complaint'
          : record.RecordType !== 'Bounce' || !type
            ? undefined
            : PERMANENT.has(type)
              ? 'bounce'
              : TRANSIENT.has(type)
                ? 'delay'
                : undefined
      if (!kind) return { outcome: 'ignored', reason: `record ${String(record.RecordType)} ${type ?? ''}`.trim() }
      const id = typeof record.ID === 'number' ? String(record.ID) : str(record.ID)
      const email = str(record.Email)
      if (!id || !email) return malformed('The record has no ID or Email.')
      const report: FeedbackReport = {
        kind: kind as FeedbackReport['kind'],
        source: 'postmark',
        eventId: id,
        status: enhancedStatus(record.Details, record.Description),
        detail: kind === 'complaint' ? 'spam complaint' : describe(type, str(record.Details) ?? str(record.Description)),
      }
      const hints = { recipient: email, subject: str(record.Subject), providerMessageId: str(record.MessageID), at: dateOr(record.BouncedAt, input.now) }
      return { outcome: 'events', events: [{ report, hints }] }
    },
  }
}
