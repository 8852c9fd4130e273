import { createHash, timingSafeEqual } from 'node:crypto'
import type { Millis } from '../../db/index.ts'
import type { FeedbackReport } from '@ragtime/outbox'

export type ProviderName = 'postmark' | 'resend' | 'mailgun' | 'ses'

/** One webhook request as it arrived: the raw body bytes (signatures are over them) and the headers. */
export interface WebhookInput {
  readonly body: Buffer
  /** Lower-cased names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly now: Millis
}

/**
 * How to find our message when the provider does not quote our Message-ID (Postmark, Resend):
 * the recipient's messages only, then the one whose stored SMTP answer names the provider's id,
 * else the latest with this subject sent before the event (see match.ts).
 */
export interface MessageHints {
  readonly recipient: string
  readonly subject?: string | undefined
  /** The provider's own id of the message (Postmark's MessageID, Resend's email_id, SES's messageId). */
  readonly providerMessageId?: string | undefined
  /** When the provider saw the event. */
  readonly at: Millis
}

export interface WebhookEvent {
  readonly report: FeedbackReport
  readonly hints?: MessageHints | undefined
}

export type WebhookVerdict =
  /**
   * Verified. `nonce`: what makes this very request unique (a signed token, an id with its signed
   * timestamp); seen twice within `nonceWindowMs`, the second is a replay.
   */
  | { readonly outcome: 'events'; readonly events: readonly WebhookEvent[]; readonly nonce?: string | undefined }
  /** Verified, but nothing we act on (a delivery, an open, a test message). */
  | { readonly outcome: 'ignored'; readonly reason: string; readonly nonce?: string | undefined }
  /** Verified SNS subscription handshake: the operator confirms it by opening `subscribeUrl`. */
  | {
      readonly outcome: 'subscription'
      readonly type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation'
      readonly topicArn: string
      readonly subscribeUrl: string
    }
  | WebhookRejection

export interface WebhookRejection {
  readonly outcome: 'rejected'
  readonly status: 400 | 401
  readonly code: 'bad_signature' | 'stale_webhook' | 'bad_payload'
  readonly message: string
  /** For the log only. */
  readonly note?: string | undefined
}

export interface WebhookProvider {
  readonly name: ProviderName
  /** Verifies and reads one request. Pure: no database, no network, no clock but `input.now`. */
  receive(input: WebhookInput): WebhookVerdict
  /** How long a nonce is remembered: the signed timestamp's tolerance, both ways. */
  readonly nonceWindowMs?: number
  /** Something about its configuration the operator should hear at start-up. */
  readonly warning?: string
}

/** Where a provider signs a timestamp and documents no other bound: Svix's default, which Mailgun's examples follow too. */
export const TIMESTAMP_TOLERANCE_MS = 5 * 60_000

export const unverified = (message = 'The webhook signature does not verify.'): WebhookRejection => ({
  outcome: 'rejected',
  status: 401,
  code: 'bad_signature',
  message,
})

export const stale = (): WebhookRejection => ({
  outcome: 'rejected',
  status: 401,
  code: 'stale_webhook',
  message: 'The webhook is too old (or dated in the future): its signed timestamp is outside the tolerance.',
})

export const malformed = (message: string): WebhookRejection => ({ outcome: 'rejected', status: 400, code: 'bad_payload', message })

/** Equal in constant time, whatever the lengths (both sides are hashed first). */
export function sameSecret(given: string | Buffer, expected: string | Buffer): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** A JSON object, or undefined for anything else (not JSON, an array, a string). */
export function parseObject(text: string | Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'))
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** One header's value (the first, if repeated). */
export function header(input: WebhookInput, name: string): string | undefined {
  const value = input.headers[name]
  return Array.isArray(value) ? value[0] : value
}

export { enhancedStatus } from '@ragtime/outbox'

/** Joins the non-empty parts with ': '. */
export function describe(...parts: unknown[]): string {
  return parts.filter((p): p is string | number => (typeof p === 'string' && p.trim() !== '') || typeof p === 'number').join(': ')
}

/** A date the provider wrote, or `fallback` when it is missing or unreadable. */
export function dateOr(value: unknown, fallback: Millis): Millis {
  const at = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN
  return Number.isFinite(at) ? at : fallback
}
