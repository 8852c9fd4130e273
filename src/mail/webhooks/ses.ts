import { createVerify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FeedbackReport } from '@ragtime/outbox'
import {
  dateOr,
  describe,
  enhancedStatus,
  isObject,
  malformed,
  parseObject,
  str,
  unverified,
  type MessageHints,
  type WebhookInput,
  type WebhookProvider,
  type WebhookVerdict,
} from './types.ts'

/**
 * SNS retries an HTTP/S delivery for at most 3,600 seconds (a hard limit of its delivery
 * policies), resending the same signed message: older than that (plus clock skew) is stale.
 */
export const SNS_MAX_AGE_MS = 3_600_000 + 5 * 60_000
const CLOCK_SKEW_MS = 5 * 60_000

/** The fields SNS signs, in the order of its canonical string, per message type. */
const SIGNED_FIELDS = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
} as const

/** What RAGTIME_WEBHOOK_SES_SECRET holds: SNS signing certificates, and the topics to accept. */
export interface SnsTrust {
  readonly certificates: readonly X509Certificate[]
  /** At least one: every AWS account's topics are signed with the same certificate. */
  readonly topics: ReadonlySet<string>
}

/**
 * Reads the secret: PEM text, or the path of a file holding it. One or more `CERTIFICATE` blocks
 * (two while AWS rotates its signing certificate) and, outside them, lines with topic ARNs
 * (`arn:aws:sns:eu-west-1:123456789012:ses-feedback`) that pin the topics accepted.
 */
export function snsTrust(secret: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): SnsTrust {
  let text = secret
  if (!secret.includes('-----BEGIN')) {
    try {
      text = readFile(secret.trim())
    } catch (err) {
      throw new Error(`RAGTIME_WEBHOOK_SES_SECRET: no PEM in it, and it is not a readable file (${(err as Error).message})`, { cause: err })
    }
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) throw new Error('RAGTIME_WEBHOOK_SES_SECRET must hold the PEM of the SNS signing certificate (or a path to it)')
  const certificates = blocks.map((pem) => {
    try {
      return new X509Certificate(pem)
    } catch (err) {
      throw new Error(`RAGTIME_WEBHOOK_SES_SECRET: a certificate does not parse (${(err as Error).message})`, { cause: err })
    }
  })
  const outside = text.replace(/-----BEGIN [^-]+-----[\s\S]+?-----END [^-]+-----/g, '')
  const topics = new Set(outside.split(/\r?\n/).map((line) => line.trim()).filter((line) => /^arn:aws[a-z-]*:sns:\S+$/.test(line)))
  // Every AWS account's topics are signed with the same certificate: without a pin, anyone with an
  // AWS account could post genuinely signed "bounces" about our users.
  if (topics.size === 0) {
    throw new Error(
      'RAGTIME_WEBHOOK_SES_SECRET must also list the SNS topic ARN(s) to accept, one per line (arn:aws:sns:<region>:<account>:<topic>): the certificate alone signs every AWS account\'s topics',
    )
  }
  return { certificates, topics }
}

/** The string SNS signs: each present field's name and value, one per line, each followed by a newline. */
export function snsCanonicalString(message: Record<string, unknown>): string | undefined {
  const type = message.Type
  if (type !== 'Notification' && type !== 'SubscriptionConfirmation' && type !== 'UnsubscribeConfirmation') return undefined
  let text = ''
  for (const field of SIGNED_FIELDS[type]) {
    const value = message[field]
    if ((value === undefined || value === null) && field === 'Subject') continue
    if (typeof value !== 'string') return undefined
    text += `${field}\n${value}\n`
  }
  return text
}

/**
 * Amazon SES feedback through SNS. Every SNS message is signed: SignatureVersion 1 is
 * SHA1withRSA, 2 is SHA256withRSA, over the canonical string of its fields (Message, MessageId,
 * Subject if present, [SubscribeURL,] Timestamp, [Token,] TopicArn, Type). The certificate comes
 * from the configuration, never from the message's SigningCertURL: the app fetches nothing
 * (tests run offline, and a URL in a request is the sender's choice). Topics are pinned: the
 * secret must list them. A message older than SNS's retry limit is stale.
 *
 * `SubscriptionConfirmation` is verified and logged for the operator to confirm (nothing is
 * fetched). A `Notification`'s Message is the SES event: Bounce (`bounceType` Permanent is a
 * bounce, Transient or Undetermined a delay), Complaint, DeliveryDelay; the rest is ignored. Our
 * Message-ID is in `mail.headers` (or `mail.commonHeaders.messageId`); the event's id is the SNS
 * MessageId, the same on every retry.
 */
export function ses(trust: SnsTrust): WebhookProvider {
  const warnings = [
    trust.certificates.every((cert) => Date.parse(cert.validTo) < Date.now()) &&
      'RAGTIME_WEBHOOK_SES_SECRET: the SNS signing certificate has expired; SNS signs with a newer one (see the SigningCertURL of its messages)',
  ].filter((w): w is string => typeof w === 'string')
  return {
    name: 'ses',
    ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
    receive(input: WebhookInput): WebhookVerdict {
      const message = parseObject(input.body)
      if (!message) return malformed('The body is not a JSON object.')
      const canonical = snsCanonicalString(message)
      if (canonical === undefined) return malformed('This is not an SNS message with the fields SNS signs.')
      const algorithm = message.SignatureVersion === '1' ? 'RSA-SHA1' : message.SignatureVersion === '2' ? 'RSA-SHA256' : undefined
      const signature = str(message.Signature)
      if (!algorithm || !signature) return unverified('The message has no SignatureVersion 1 or 2 signature.')
      const verified = trust.certificates.some((cert) => verifies(algorithm, canonical, cert, signature))
      if (!verified) {
        // AWS rotates its signing certificate now and then: the operator needs to know which one this is.
        const certUrl = str(message.SigningCertURL)?.slice(0, 300)
        return { ...unverified('The SNS signature does not verify with the configured certificate.'), note: certUrl && `SigningCertURL ${certUrl}` }
      }
      const topicArn = message.TopicArn as string
      if (!trust.topics.has(topicArn)) return unverified('The message is from a topic this app does not accept.')
      const sentAt = Date.parse(message.Timestamp as string)
      if (!Number.isFinite(sentAt) || input.now - sentAt > SNS_MAX_AGE_MS || sentAt - input.now > CLOCK_SKEW_MS) {
        return { outcome: 'rejected', status: 401, code: 'stale_webhook', message: 'The SNS message is older than SNS retries (or dated in the future).' }
      }
      if (message.Type !== 'Notification') {
        return { outcome: 'subscription', type: message.Type as 'SubscriptionConfirmation' | 'UnsubscribeConfirmation', topicArn, subscribeUrl: message.SubscribeURL as string }
      }
      const event = parseObject(message.Message as string)
      if (!event) return { outcome: 'ignored', reason: 'a notification that is not an SES event' }
      return sesEvent(event, message.MessageId as string, input.now)
    },
  }
}

function verifies(algorithm: string, canonical: string, cert: X509Certificate, signature: string): boolean {
  try {
    return createVerify(algorithm).update(canonical, 'utf8').verify(cert.publicKey, signature, 'base64')
  } catch {
    // A key of another type than the signature's: not verified, not a 500.
    return false
  }
}

function sesEvent(event: Record<string, unknown>, snsMessageId: string, now: number): WebhookVerdict {
  const type = str(event.notificationType) ?? str(event.eventType)
  const mail = isObject(event.mail) ? event.mail : {}
  let kind: FeedbackReport['kind']
  let detail: string
  let status: string | undefined
  let at: number
  if (type === 'Bounce' && isObject(event.bounce)) {
    const bounce = event.bounce
    const recipient = firstObject(bounce.bouncedRecipients)
    kind = bounce.bounceType === 'Permanent' ? 'bounce' : 'delay'
    status = enhancedStatus(recipient.status, recipient.diagnosticCode)
    detail = describe(`${String(bounce.bounceType)}/${String(bounce.bounceSubType)}`, str(recipient.diagnosticCode))
    at = dateOr(bounce.timestamp, now)
  } else if (type === 'Complaint' && isObject(event.complaint)) {
    kind = 'complaint'
    detail = describe('complaint', str(event.complaint.complaintFeedbackType))
    at = dateOr(event.complaint.timestamp, now)
  } else if (type === 'DeliveryDelay' && isObject(event.deliveryDelay)) {
    const delay = event.deliveryDelay
    const recipient = firstObject(delay.delayedRecipients)
    kind = 'delay'
    status = enhancedStatus(recipient.status, recipient.diagnosticCode)
    detail = describe(`delayed (${String(delay.delayType)})`, str(recipient.diagnosticCode))
    at = dateOr(delay.timestamp, now)
  } else {
    return { outcome: 'ignored', reason: `SES ${type ?? 'message'}` }
  }
  const report: FeedbackReport = { kind, source: 'ses', eventId: snsMessageId, messageId: sesMessageId(mail), status, detail }
  const destination = Array.isArray(mail.destination) ? str(mail.destination[0]) : undefined
  const common = isObject(mail.commonHeaders) ? mail.commonHeaders : {}
  const hints: MessageHints | undefined = destination
    ? { recipient: destination, subject: str(common.subject), providerMessageId: str(mail.messageId), at }
    : undefined
  return { outcome: 'events', events: [{ report, hints }] }
}

/** Our Message-ID: the header as SES kept it, else commonHeaders.messageId. */
function sesMessageId(mail: Record<string, unknown>): string | undefined {
  if (Array.isArray(mail.headers)) {
    for (const h of mail.headers) {
      if (isObject(h) && typeof h.name === 'string' && h.name.toLowerCase() === 'message-id') return str(h.value)
    }
  }
  const common = isObject(mail.commonHeaders) ? mail.commonHeaders : {}
  return str(common.messageId)
}

function firstObject(list: unknown): Record<string, unknown> {
  return Array.isArray(list) && isObject(list[0]) ? list[0] : {}
}
