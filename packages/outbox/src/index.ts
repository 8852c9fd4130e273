/**
 * @ragtime/outbox: a durable transactional outbox for email. Enqueue inside your own database
 * transaction; workers deliver over SMTP with retries, back-off, dead letters, flow control and
 * crash recovery. See README.md.
 */
export { createOutbox, type EnqueueOptions, type Outbox, type OutboxOptions, type OutboxStatus } from './outbox.ts'
export { committed, transaction } from './transaction.ts'
export { migrate, type MigrateOptions } from './migrations/index.ts'
export type { Db as OutboxDb, Dialect, NotificationClient } from './db.ts'
export type * from './schema.ts'
export type { Email, EmailMessage, TemplateName } from './email.ts'
export { MAIL_ERROR_CODES, MailInputError } from './errors.ts'
export { type Clock, systemClock } from './clock.ts'
export { DEFAULT_DELIVERY, type DeliveryOptions, type Logger, silentLogger, type SmtpOptions } from './options.ts'

// States and priorities.
export {
  FINISHED_STATES,
  isMailState,
  LIVE_STATES,
  MAIL_PRIORITIES,
  MAIL_STATES,
  type MailPriority,
  type MailState,
  UNFINISHED_STATES,
  WAITING_STATES,
} from './states.ts'
export type { LastFailure, OutboxRow, OutboxStore, Outcome, SmtpReply } from './store/index.ts'
export { DEFAULT_TABLE_PREFIX, notifyChannel } from './tables.ts'

// Delivery.
export { DeliveryWorker, type RunSummary, type WorkerOptions } from './worker.ts'
export type { FlowStatus } from './flow/index.ts'
export type { AttemptedEvent, EnqueuedEvent, MailSignals } from './signals.ts'
export { classifyFailure, type Failure } from './failure.ts'
export type { MailTransport, OutgoingMail, RelayStatus } from './transports/transport.ts'
export { smtpTransport, type SmtpTransportOptions } from './transports/smtp.ts'
export { COOL_DOWN, FailoverTransport, type FailoverOptions, type Relay, TRIP_AFTER } from './transports/failover.ts'

// Rendering.
export {
  createRenderer,
  type DkimSigning,
  RENDER_CHANNEL,
  type RenderedMail,
  type Renderer,
  type RendererOptions,
} from './render/renderer.ts'

// Operations, retention, feedback (bounces and complaints that arrive later).
export {
  type AuditEntry,
  EXPIRED_BODIES_TARGET,
  type FeedbackEntry,
  type MailAction,
  type MailOperations,
  type MailOverview,
  mailOperations,
  type MinuteActivity,
  type Suppression,
} from './operations.ts'
export { EXPIRED_BODIES_EVERY_MS, type RetentionOptions, startRetention } from './retention.ts'
export {
  COMPLAINT_RATE_WARNING,
  type FeedbackReport,
  type FeedbackResult,
  type FeedbackSummary,
  feedbackSummary,
  recordFeedback,
} from './feedback.ts'
export { ENHANCED_STATUS, enhancedStatus, statusSuppresses } from './smtp-status.ts'
// Bounces by mail: per-message VERP return paths, and an SMTP receiver that reads DSNs and ARF.
export { type Verp, verp } from './verp.ts'
export { type BounceReceiver, type BounceReceiverOptions, startBounceReceiver } from './bounces/receiver.ts'
export { type ParsedReport, type ReadResult, readReport } from './bounces/reports.ts'

// Helpers an app sending mail needs too.
export { type AddressProblem, type AddressResult, addressKey, type Mailbox, normalizeAddress, parseMailbox } from './address.ts'
export { formatDuration } from './duration.ts'
