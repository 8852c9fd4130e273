/**
 * Bounces, delays and complaints reported by mail providers' webhooks: each provider's
 * verification and payload mapping (pure), and what is done with a verified report (the one
 * feedback pipeline, recordFeedback of @ragtime/outbox).
 */
import type { WebhookSecrets } from '../../config/index.ts'
import { clearWindow, countInWindow, type Db, type Millis } from '../../db/index.ts'
import type { Outbox } from '../templates.ts'
import { type FeedbackReport, type FeedbackResult, recordFeedback } from '@ragtime/outbox'
import { mailgun } from './mailgun.ts'
import { locateMessage } from './match.ts'
import { postmark } from './postmark.ts'
import { resend } from './resend.ts'
import { ses, snsTrust } from './ses.ts'
import type { ProviderName, WebhookEvent, WebhookProvider } from './types.ts'

export { mailgun } from './mailgun.ts'
export { locateMessage } from './match.ts'
export { postmark } from './postmark.ts'
export { resend } from './resend.ts'
export { SNS_MAX_AGE_MS, ses, snsCanonicalString, snsTrust, type SnsTrust } from './ses.ts'
export {
  type MessageHints,
  type ProviderName,
  TIMESTAMP_TOLERANCE_MS,
  type WebhookEvent,
  type WebhookInput,
  type WebhookProvider,
  type WebhookRejection,
  type WebhookVerdict,
} from './types.ts'

export const WEBHOOK_PROVIDERS: readonly ProviderName[] = Object.freeze(['postmark', 'resend', 'mailgun', 'ses'])

/**
 * The providers whose secret is configured. A secret that cannot be right (a Postmark secret
 * without a colon, an SES secret with no certificate) throws: a start-up error, not a webhook
 * that refuses every request.
 */
export function webhookProviders(secrets: WebhookSecrets): ReadonlyMap<ProviderName, WebhookProvider> {
  const providers = new Map<ProviderName, WebhookProvider>()
  if (secrets.postmark) providers.set('postmark', postmark(secrets.postmark))
  if (secrets.resend) providers.set('resend', resend(secrets.resend))
  if (secrets.mailgun) providers.set('mailgun', mailgun(secrets.mailgun))
  if (secrets.ses) providers.set('ses', ses(snsTrust(secrets.ses)))
  return providers
}

/**
 * True the first time `nonce` is seen within `windowMs` (kept with the rate limits, so every
 * instance shares it); false for a replay.
 */
export async function firstUse(db: Db, nonce: string, windowMs: number, now: Millis): Promise<boolean> {
  const { hits } = await countInWindow(db.kysely, nonceKey(nonce), windowMs, now)
  return hits === 1
}

/** Un-spends a nonce whose events could not be recorded, so that the provider's retry is taken. */
export async function releaseNonce(db: Db, nonce: string): Promise<void> {
  await clearWindow(db.kysely, nonceKey(nonce))
}

function nonceKey(nonce: string): string {
  return `webhook-nonce:${nonce}`.slice(0, 300)
}

export interface RecordedEvent {
  readonly report: FeedbackReport
  readonly result: FeedbackResult
}

/**
 * Feeds each verified event to the pipeline: by our Message-ID when the provider quotes it; when
 * it does not, or quotes one that is not ours, by the hints (see locateMessage: a subject guess
 * only when no Message-ID was given at all).
 */
export async function recordWebhookEvents(outbox: Outbox, db: Db, events: readonly WebhookEvent[], now: Millis): Promise<RecordedEvent[]> {
  const recorded: RecordedEvent[] = []
  for (const { report, hints } of events) {
    let result: FeedbackResult = report.messageId ? await recordFeedback(outbox, report, now) : { outcome: 'unknown' }
    if (result.outcome === 'unknown' && hints) {
      const outboxId = await locateMessage(db, hints, { guess: !report.messageId })
      if (outboxId !== undefined) result = await recordFeedback(outbox, { ...report, outboxId }, now)
    }
    recorded.push({ report, result })
  }
  return recorded
}
