/**
 * The mail module's only door. It knows nothing about accounts: callers describe an email
 * (template, recipient, subject, context) and enqueue it inside their own transaction.
 */
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { Config } from '../config/index.ts'
import type { Db } from '../db/index.ts'
import type { Clock } from './clock.ts'
import { createOutbox, type Outbox } from './outbox.ts'
import { createRenderer } from './render/renderer.ts'
import { FailoverTransport } from './transports/failover.ts'
import { smtpTransport } from './transports/smtp.ts'
import type { MailTransport } from './transports/transport.ts'
import { type Verp, verp } from './verp.ts'
import { DeliveryWorker } from './worker.ts'

export { type Clock, systemClock } from './clock.ts'
export { MAIL_ERROR_CODES, MailInputError } from './errors.ts'
export { classifyFailure, type Failure } from './failure.ts'
export type { EnqueueOptions, Outbox, OutboxStatus } from './outbox.ts'
export {
  type AuditEntry,
  type FeedbackEntry,
  type MailAction,
  type MailOperations,
  type MailOverview,
  mailOperations,
  type MinuteActivity,
  NOTHING_CHANGED,
  type Suppression,
} from './operations.ts'
export { startRetention } from './retention.ts'
export { ENHANCED_STATUS, enhancedStatus, statusSuppresses } from './smtp-status.ts'
export {
  COMPLAINT_RATE_WARNING,
  type FeedbackReport,
  type FeedbackResult,
  type FeedbackSummary,
  feedbackSummary,
  recordFeedback,
} from './feedback.ts'
export type { AttemptedEvent, EnqueuedEvent } from './signals.ts'
export { createRenderer, type DkimSigning, type RenderedMail, type Renderer } from './render/renderer.ts'
export { type Verp, verp }
export { MAIL_PRIORITIES, MAIL_STATES, type MailPriority, type MailState, isMailState } from './states.ts'
export type { OutboxRow } from './store/index.ts'
export type { Email, MailTemplates, TemplateName } from './templates.ts'
export type { MailTransport, OutgoingMail, RelayStatus } from './transports/transport.ts'
export { COOL_DOWN, FailoverTransport, TRIP_AFTER } from './transports/failover.ts'
export type { FlowStatus } from './flow/index.ts'
export { type RunSummary, DeliveryWorker, type WorkerOptions } from './worker.ts'
export { createOutbox, smtpTransport }

/** `templates/mail/`: `<area>/<name>.txt|.html` and the shared `layouts/`. */
export const MAIL_TEMPLATES_DIR = fileURLToPath(new URL('../../templates/mail', import.meta.url))

/** The outbox as the configuration describes it: prefix, sender and templates. */
export function outboxFromConfig(config: Config, db: Db, clock?: Clock): Outbox {
  const renderer = createRenderer({
    templatesDir: MAIL_TEMPLATES_DIR,
    subjectPrefix: config.mailSubjectPrefix,
    sender: config.mailSender,
    dkim: config.dkim,
  })
  return createOutbox({ db, renderer, verp: verpFromConfig(config), ...(clock ? { clock } : {}) })
}

/**
 * A worker that delivers over SMTP with the configured pool size and delivery policy; through
 * the fallback relay (MAIL_FALLBACK_SERVER) while the primary is down, when one is configured.
 */
export function workerFromConfig(
  config: Config,
  outbox: Outbox,
  logger: Logger,
  smtp = config.smtp,
  fallback = config.smtpFallback,
): DeliveryWorker {
  if (!smtp) throw new Error('no SMTP server configured: set MAIL_SERVER')
  // The worker's adaptive limit decides how many are open (see flow/); this is only the ceiling.
  const maxConnections = config.delivery.maxConnections
  // Nothing opens before the worker has its share of the relay's connections.
  const initialLimit = 0
  const primary = smtpTransport({ ...smtp, maxConnections, initialLimit })
  const transport: MailTransport = fallback
    ? new FailoverTransport({
        primary: { host: smtp.host, port: smtp.port, transport: primary },
        fallback: { host: fallback.host, port: fallback.port, transport: smtpTransport({ ...fallback, maxConnections, initialLimit }) },
        onChange: (relay, relays) => {
          const inUse = relays.find((r) => r.inUse)
          logger.warn(
            { relay: relay.name, host: `${relay.host}:${relay.port}`, state: relay.state, inUse: inUse?.name },
            `mail relay ${relay.name} is ${relay.state}; delivering via ${inUse?.name ?? 'none'}`,
          )
        },
      })
    : primary
  return new DeliveryWorker({ outbox, transport, delivery: config.delivery, logger, relay: `${smtp.host}:${smtp.port}` })
}

export { type CaptureServer, startCaptureServer } from './dev-inbox/capture-server.ts'
export { type BounceReceiver, startBounceReceiver } from './bounces/receiver.ts'
export { readReport } from './bounces/reports.ts'

/** The VERP addresses of RAGTIME_BOUNCE_ADDRESS, keyed by SECRET_KEY; undefined without a bounce address. */
export function verpFromConfig(config: Config): Verp | undefined {
  if (!config.bounceAddress) return undefined
  if (!config.secretKey) throw new Error('RAGTIME_BOUNCE_ADDRESS needs SECRET_KEY: it keys the VERP addresses')
  return verp(config.bounceAddress, config.secretKey)
}
export { type DevInboxStore, devInboxStore, type InboxMessage, type InboxSummary } from './dev-inbox/store.ts'
