import { createHmac } from 'node:crypto'
import type { FeedbackReport } from '@ragtime/outbox'
import {
  describe,
  enhancedStatus,
  isObject,
  malformed,
  parseObject,
  sameSecret,
  stale,
  str,
  TIMESTAMP_TOLERANCE_MS,
  unverified,
  type WebhookInput,
  type WebhookProvider,
  type WebhookVerdict,
} from './types.ts'

/**
 * Mailgun's HTTP webhooks (JSON). The body carries `signature: { timestamp, token, signature }`:
 * `signature` is the hex HMAC-SHA256 of `timestamp + token` keyed with the account's HTTP webhook
 * signing key (a subaccount's event also carries `parent-signature`, by the primary account's
 * key; either verifies). The signature does not cover `event-data`, so a token is good once: a
 * second request with it is a replay (401), and a timestamp more than 5 minutes off is stale.
 *
 * `event-data.event`: `failed` with `severity: permanent` is a bounce, `temporary` a delay;
 * `complained` a complaint; anything else is ignored. Our Message-ID is
 * `event-data.message.headers.message-id` (without angle brackets); the event's id is
 * `event-data.id` with `event-data.timestamp` (the id alone is unique within a day only).
 */
export function mailgun(signingKey: string): WebhookProvider {
  const sign = (text: string) => createHmac('sha256', signingKey).update(text).digest('hex')
  return {
    name: 'mailgun',
    nonceWindowMs: 2 * TIMESTAMP_TOLERANCE_MS,
    receive(input: WebhookInput): WebhookVerdict {
      const body = parseObject(input.body)
      if (!body) return malformed('The body is not a JSON object.')
      const signature = body.signature
      if (!isObject(signature)) return unverified('The body has no signature.')
      const timestamp = typeof signature.timestamp === 'number' ? String(signature.timestamp) : signature.timestamp
      const token = signature.token
      if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp) || typeof token !== 'string' || token.length === 0 || token.length > 256) {
        return unverified('The signature has no valid timestamp and token.')
      }
      const expected = sign(timestamp + token)
      const given = [signature.signature, signature['parent-signature']].filter((s): s is string => typeof s === 'string')
      // Every candidate is compared: the time taken does not say which one matched.
      const matches = given.map((s) => sameSecret(s.toLowerCase(), expected)).filter(Boolean).length
      if (matches === 0) return unverified()
      if (Math.abs(input.now - Number(timestamp) * 1000) > TIMESTAMP_TOLERANCE_MS) return stale()

      const data = body['event-data']
      if (!isObject(data)) return malformed('The body has no event-data object.')
      const id = str(data.id)
      if (!id) return malformed('The event has no id.')
      // Mailgun's event ids are unique within a day only: with the event's own time, for ever.
      const eventId = typeof data.timestamp === 'number' ? `${id}@${data.timestamp}` : id
      const nonce = `mailgun:${token}`
      const kind = kindOf(data)
      if (!kind) return { outcome: 'ignored', reason: `event ${String(data.event)}`, nonce }

      const message = isObject(data.message) ? data.message : {}
      const headers = isObject(message.headers) ? message.headers : {}
      const status = isObject(data['delivery-status']) ? data['delivery-status'] : {}
      const report: FeedbackReport = {
        kind,
        source: 'mailgun',
        eventId,
        messageId: str(headers['message-id']),
        status: enhancedStatus(status['enhanced-code'], status.message, status.description),
        detail:
          kind === 'complaint'
            ? 'complained'
            : describe(`${String(data.severity)} failure`, str(data.reason), status.code, str(status.message) ?? str(status.description)),
      }
      const recipient = str(data.recipient)
      const at = typeof data.timestamp === 'number' ? Math.round(data.timestamp * 1000) : input.now
      return {
        outcome: 'events',
        nonce,
        events: [{ report, hints: recipient ? { recipient, subject: str(headers.subject), at } : undefined }],
      }
    },
  }
}

function kindOf(data: Record<string, unknown>): FeedbackReport['kind'] | undefined {
  if (data.event === 'complained') return 'complaint'
  if (data.event !== 'failed') return undefined
  if (data.severity === 'permanent') return 'bounce'
  if (data.severity === 'temporary') return 'delay'
  return undefined
}
