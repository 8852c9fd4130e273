import { createHmac } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import {
  createOutbox,
  createRenderer,
  type Clock,
  DeliveryWorker,
  FailoverTransport,
  type Logger,
  type MailTransport,
  smtpTransport,
  type Verp,
  verp,
} from '@ragtime/outbox'
import type { Config } from '../config/index.ts'
import { type Db, pg } from '../db/index.ts'
import type { MailTemplates, Outbox } from './templates.ts'

// The engine: Ragtime uses it only through the package's public API.
export {
  type AttemptedEvent,
  type AuditEntry,
  type BounceReceiver,
  type Clock,
  classifyFailure,
  COMPLAINT_RATE_WARNING,
  COOL_DOWN,
  createOutbox,
  createRenderer,
  DeliveryWorker,
  type DkimSigning,
  ENHANCED_STATUS,
  type EnqueuedEvent,
  type EnqueueOptions,
  enhancedStatus,
  FailoverTransport,
  type Failure,
  type FeedbackEntry,
  type FeedbackReport,
  type FeedbackResult,
  type FeedbackSummary,
  feedbackSummary,
  type FlowStatus,
  type LastFailure,
  isMailState,
  MAIL_ERROR_CODES,
  MAIL_PRIORITIES,
  MAIL_STATES,
  type MailAction,
  MailInputError,
  type MailOperations,
  type MailOverview,
  type MailPriority,
  type MailState,
  type MailTransport,
  mailOperations,
  type MinuteActivity,
  type OutboxRow,
  type OutboxStatus,
  type OutgoingMail,
  readReport,
  recordFeedback,
  type RelayStatus,
  type RenderedMail,
  type Renderer,
  type RunSummary,
  smtpTransport,
  startBounceReceiver,
  startRetention,
  statusSuppresses,
  type Suppression,
  systemClock,
  TRIP_AFTER,
  type Verp,
  verp,
  type WorkerOptions,
} from '@ragtime/outbox'
export { NOTHING_CHANGED } from './nothing-changed.ts'
export type { Email, MailTemplates, Outbox, TemplateName } from './templates.ts'

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
  const verp = verpFromConfig(config)
  const url = db.postgresUrl
  return createOutbox<MailTemplates>({
    db: db.kysely,
    dialect: db.dialect,
    listen: url === undefined ? undefined : () => new (pg().Client)({ connectionString: url }),
    renderer,
    envelopeSender: verp ? (id) => verp.address(id) : undefined,
    ...(clock ? { clock } : {}),
  })
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


/** The VERP addresses of RAGTIME_BOUNCE_ADDRESS, keyed by SECRET_KEY; undefined without a bounce address. */
export function verpFromConfig(config: Config): Verp | undefined {
  if (!config.bounceAddress) return undefined
  if (!config.secretKey) throw new Error('RAGTIME_BOUNCE_ADDRESS needs SECRET_KEY: it keys the VERP addresses')
  // The key the addresses of earlier versions were made with: bounces of mail sent before a deploy still match.
  return verp(config.bounceAddress, createHmac('sha256', config.secretKey).update('ragtime verp').digest())
}
