import { createHmac } from 'node:crypto'
import type { FeedbackReport } from '@ragtime/outbox'
import {
  dateOr,
  describe,
  enhancedStatus,
  header,
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
 * Resend's webhooks, delivered by Svix. Headers `svix-id` (the same on every retry of one event),
 * `svix-timestamp` (seconds; a new one on each attempt) and `svix-signature` (space-separated
 * `v1,<base64>`, several while a secret rotates). The signature is the HMAC-SHA256 of
 * `${svix-id}.${svix-timestamp}.${raw body}`, keyed with the base64-decoded part of the signing
 * secret after `whsec_`. A timestamp more than 5 minutes off is stale (Svix's tolerance), and the
 * same id with the same timestamp twice is a replay of one attempt.
 *
 * Events: `email.bounced` (a bounce; `bounce.type` `Transient` is only a delay),
 * `email.delivery_delayed` (a delay), `email.complained` (a complaint); the rest are ignored.
 * Resend's payload names the email by its own `email_id` and does not document our Message-ID,
 * so a `Message-ID` in `data.headers` is used when present, and otherwise the message is found
 * from the recipient (`data.to`), `data.subject` and the time (see match.ts).
 */
export function resend(secret: string): WebhookProvider {
  const key = signingKey(secret)
  return {
    name: 'resend',
    nonceWindowMs: 2 * TIMESTAMP_TOLERANCE_MS,
    receive(input: WebhookInput): WebhookVerdict {
      const id = header(input, 'svix-id')
      const timestamp = header(input, 'svix-timestamp')
      const signatures = header(input, 'svix-signature')
      if (!id || id.length > 256 || !timestamp || !/^\d{1,12}$/.test(timestamp) || !signatures) {
        return unverified('The svix-id, svix-timestamp and svix-signature headers are required.')
      }
      const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(input.body).digest('base64')
      const given = signatures
        .split(' ')
        .map((entry) => entry.split(','))
        .filter(([version, value]) => version === 'v1' && value)
        .map(([, value]) => value as string)
      const matches = given.map((value) => sameSecret(value, expected)).filter(Boolean).length
      if (matches === 0) return unverified()
      if (Math.abs(input.now - Number(timestamp) * 1000) > TIMESTAMP_TOLERANCE_MS) return stale()

      const body = parseObject(input.body)
      if (!body) return malformed('The body is not a JSON object.')
      const data = body.data
      if (typeof body.type !== 'string' || !isObject(data)) return malformed('The body has no type and data.')
      const bounce = isObject(data.bounce) ? data.bounce : {}
      const nonce = `resend:${id}.${timestamp}`
      const kind = kindOf(body.type, bounce)
      if (!kind) return { outcome: 'ignored', reason: `event ${body.type}`, nonce }

      const diagnostics = Array.isArray(bounce.diagnosticCode) ? bounce.diagnosticCode.filter((d) => typeof d === 'string') : [bounce.diagnosticCode]
      const report: FeedbackReport = {
        kind,
        source: 'resend',
        eventId: id,
        messageId: messageIdIn(data.headers),
        status: enhancedStatus(...diagnostics, bounce.message),
        detail:
          kind === 'complaint'
            ? 'complained'
            : describe(body.type, str(bounce.type), str(bounce.subType), str(bounce.message), ...diagnostics),
      }
      const to = Array.isArray(data.to) ? data.to : [data.to]
      const recipient = str(to[0])
      const hints = recipient
        ? { recipient, subject: str(data.subject), providerMessageId: str(data.email_id), at: dateOr(body.created_at, input.now) }
        : undefined
      return { outcome: 'events', nonce, events: [{ report, hints }] }
    },
  }
}

/** `whsec_<base64>` as Resend shows it (the prefix is optional). */
function signingKey(secret: string): Buffer {
  const encoded = secret.trim().replace(/^whsec_/, '')
  const key = Buffer.from(encoded, 'base64')
  if (key.length < 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new Error('RAGTIME_WEBHOOK_RESEND_SECRET must be the webhook signing secret Resend shows: whsec_ followed by base64')
  }
  return key
}

function kindOf(type: string, bounce: Record<string, unknown>): FeedbackReport['kind'] | undefined {
  if (type === 'email.complained') return 'complaint'
  if (type === 'email.delivery_delayed') return 'delay'
  if (type !== 'email.bounced') return undefined
  // email.bounced is documented as a permanent rejection; trust a type that says otherwise.
  return bounce.type === 'Transient' ? 'delay' : 'bounce'
}

/** A Message-ID header in `data.headers`, as a list of `{ name, value }` or as an object. */
function messageIdIn(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    for (const h of headers) {
      if (isObject(h) && typeof h.name === 'string' && h.name.toLowerCase() === 'message-id') return str(h.value)
    }
    return undefined
  }
  if (!isObject(headers)) return undefined
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'message-id') return str(value)
  return undefined
}
