/**
 * Where the outbox writes what happened: four levels, each taking an object of fields and a
 * message, in that order. A pino logger fits as it is; `console` does not (order of arguments).
 */
export interface Logger {
  debug(fields: object, message: string): void
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

/** A logger that drops everything: the default. */
export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} })

/** How a worker delivers: its connections, quotas, retries and leases. */
export interface DeliveryOptions {
  /** SMTP connections per worker process to start with; adapts up to `maxConnections`. */
  readonly concurrency: number
  /** The most SMTP connections to one relay, across every worker process sharing the database. */
  readonly maxConnections: number
  /** The relay's send quota in messages per second, across every worker; unset: none known. */
  readonly rate: number | undefined
  /** Per recipient domain (lower case, exact): the most messages per second, across every worker. */
  readonly domainRates: ReadonlyMap<string, number>
  /** Messages claimed per batch; the most a worker holds in memory. */
  readonly batchSize: number
  /** Delay before the first retry; doubles (with jitter) after each failure. */
  readonly retryFirstMs: number
  /** The longest delay between two attempts. */
  readonly retryMaxMs: number
  /** After this long since the first attempt, a transient failure becomes `dead`. */
  readonly giveUpMs: number
  /** How long a claim is held before another worker may take it over; renewed while sending. */
  readonly leaseMs: number
  /** How long in-flight sends may take to finish at shutdown. */
  readonly shutdownGraceMs: number
  /** How often an idle worker looks for mail it was not woken for (other processes). */
  readonly pollMs: number
  /** Sent mail keeps its stored message this long; its row (metadata) stays. */
  readonly retentionMs: number
}

/** The defaults of every delivery option. */
export const DEFAULT_DELIVERY: DeliveryOptions = Object.freeze({
  concurrency: 5,
  maxConnections: 50,
  rate: undefined,
  domainRates: new Map<string, number>(),
  batchSize: 100,
  retryFirstMs: 5_000,
  retryMaxMs: 300_000,
  giveUpMs: 86_400_000,
  leaseMs: 30_000,
  shutdownGraceMs: 10_000,
  pollMs: 1_000,
  retentionMs: 30 * 86_400_000,
})

/** An SMTP relay. */
export interface SmtpOptions {
  readonly host: string
  readonly port: number
  /** Require STARTTLS; false (the default) sends in the clear unless `secure`. */
  readonly startTls?: boolean | undefined
  /** TLS from the first byte (port 465); default false. */
  readonly secure?: boolean | undefined
  /** Log in with these (AUTH); unset, no login. */
  readonly username?: string | undefined
  readonly password?: string | undefined
}
