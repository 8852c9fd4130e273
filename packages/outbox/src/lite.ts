/**
 * `@ragtime/outbox/lite`: the parts that load no SMTP, rendering or template code (only kysely and
 * nodemailer's address parser), for processes that migrate, validate configuration or list
 * states and should start in milliseconds. Everything here is also exported by the main entry.
 */
export { type AddressProblem, type AddressResult, addressKey, type Mailbox, normalizeAddress, parseMailbox } from './address.ts'
export { formatDuration } from './duration.ts'
export { migrate, type MigrateOptions } from './migrations/index.ts'
export { DEFAULT_DELIVERY, type DeliveryOptions, type Logger, silentLogger, type SmtpOptions } from './options.ts'
export type * from './schema.ts'
export { FINISHED_STATES, isMailState, LIVE_STATES, MAIL_PRIORITIES, MAIL_STATES, type MailPriority, type MailState, UNFINISHED_STATES, WAITING_STATES } from './states.ts'
export { committed, transaction } from './transaction.ts'
