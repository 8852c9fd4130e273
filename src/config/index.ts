import path from 'node:path'
import { DEFAULT_DELIVERY, type DeliveryOptions, type SmtpOptions } from '@ragtime/outbox/lite'
import { z } from 'zod'
import { normalizeAddress, parseMailbox } from '../lib/email-address.ts'
import { readDkimKey } from './dkim-key.ts'
import { DEFAULT_HEAP_SIZING, HEAP_SIZINGS } from './heap.ts'
import {
  type DatabaseLocation,
  databaseLocation,
  domainRates,
  duration,
  flag,
  httpUrl,
  integer,
  line,
  oneOf,
  rate,
  type TrustedProxies,
  trustedProxies,
  hostname,
  dnsServers,
} from './parsers.ts'

export type { DatabaseLocation, TrustedProxies } from './parsers.ts'

/** How the outbox delivers: every default is documented in docs/outbox.md. */
/** How workers deliver (the outbox's delivery options, every one set from RAGTIME_MAIL_*). */
export type DeliveryConfig = DeliveryOptions

/** An SMTP relay: MAIL_SERVER … (startTls is Flask-Mail's MAIL_USE_TLS, secure its MAIL_USE_SSL). */
export type SmtpConfig = SmtpOptions

/** Signs every message at enqueue (relaxed/relaxed, rsa-sha256). */
export interface DkimConfig {
  readonly selector: string
  /** The `d=` domain: RAGTIME_DKIM_DOMAIN, or the sender's domain. */
  readonly domain: string
  /** PKCS#8 PEM. */
  readonly privateKey: string
}

/** Secrets of the mail providers whose webhooks report bounces and complaints; unset: 404. */
export interface WebhookSecrets {
  readonly postmark: string | undefined
  readonly resend: string | undefined
  readonly mailgun: string | undefined
  readonly ses: string | undefined
}

export interface Config {
  readonly production: boolean
  readonly port: number
  readonly host: string
  readonly baseUrl: string
  /** Which peers may set X-Forwarded-For: none, the nearest N hops, or these addresses/CIDRs. */
  readonly trustProxy: TrustedProxies
  /**
   * Bearer token for `/metrics` (web and `worker --metrics-port`). Unset: open in development,
   * 404 in production.
   */
  readonly metricsToken: string | undefined
  readonly database: DatabaseLocation
  /** Unset means: development mail goes to the dev inbox. */
  readonly smtp: SmtpConfig | undefined
  /**
   * MAIL_FALLBACK_SERVER: the relay new attempts go to while the primary (`smtp`) is down or
   * refusing connections (see docs/outbox.md, "Failover"). Needs MAIL_SERVER.
   */
  readonly smtpFallback: SmtpConfig | undefined
  readonly devSmtpPort: number
  readonly admin: string | undefined
  readonly mailSubjectPrefix: string
  /** `Name <address>`: From of every email, and the domain of its Message-ID. */
  readonly mailSender: string
  readonly dkim: DkimConfig | undefined
  /**
   * RAGTIME_BOUNCE_ADDRESS: turns on a VERP envelope sender per message (`local+<id>-<mac>@domain`)
   * and the bounce receiver.
   */
  readonly bounceAddress: string | undefined
  /** The bounce receiver's SMTP port (`serve` listens when set; `ragtime bounces` defaults to 2525). */
  readonly bounceSmtpPort: number | undefined
  readonly webhookSecrets: WebhookSecrets
  /** RAGTIME_DNS_SERVERS: where `ragtime mail doctor` asks (empty: the system's servers). */
  readonly dnsServers: readonly string[]
  readonly delivery: DeliveryConfig
  readonly rateLimits: boolean
  /** log2 of scrypt's N for new password hashes; lower only for load tests. */
  readonly passwordCost: number
  readonly logLevel: string
  /**
   * Signs CSRF tokens. Required in production; in development the CLI keeps a generated one in
   * the data folder (see `withSecretKey`).
   */
  readonly secretKey: string | undefined
  /** Where development state lives: beside the SQLite file, or `data/`. */
  readonly dataDir: string
}

/** Start-up refused: every bad variable, each with what is wrong with it. */
export class ConfigError extends Error {
  readonly problems: readonly { variable: string; message: string }[]
  constructor(problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

function schema(cwd: string) {
  const address = z.string().transform((value, ctx) => {
    const result = normalizeAddress(value, { singleLabelDomain: true })
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.message })
      return z.NEVER
    }
    return result.address
  })
  return z.object({
    NODE_ENV: oneOf(['production', 'development', 'test']).default('development'),
    PORT: integer(0, 65535).default(3000),
    HOST: line.default('localhost'),
    BASE_URL: httpUrl.optional(),
    RAGTIME_TRUST_PROXY: trustedProxies.default(false),
    DATABASE_URL: databaseLocation(cwd).default({ kind: 'sqlite', path: `${cwd}/data/ragtime.sqlite` }),
    MAIL_SERVER: line.trim().optional(),
    MAIL_PORT: integer(1, 65535).default(587),
    MAIL_USE_TLS: flag.default(false),
    MAIL_USE_SSL: flag.default(false),
    MAIL_USERNAME: line.optional(),
    MAIL_PASSWORD: line.optional(),
    MAIL_FALLBACK_SERVER: line.trim().optional(),
    MAIL_FALLBACK_PORT: integer(1, 65535).default(587),
    MAIL_FALLBACK_USE_TLS: flag.default(false),
    MAIL_FALLBACK_USE_SSL: flag.default(false),
    MAIL_FALLBACK_USERNAME: line.optional(),
    MAIL_FALLBACK_PASSWORD: line.optional(),
    RAGTIME_ADMIN: address.optional(),
    RAGTIME_MAIL_SUBJECT_PREFIX: line.default('Ragtime — '),
    RAGTIME_MAIL_SENDER: line.optional(),
    RAGTIME_DKIM_SELECTOR: z
      .string()
      .trim()
      .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i, 'must be a DNS label such as "ragtime2026"')
      .optional(),
    RAGTIME_DKIM_PRIVATE_KEY: z.string().optional(),
    RAGTIME_DKIM_DOMAIN: hostname.optional(),
    RAGTIME_BOUNCE_ADDRESS: address.optional(),
    RAGTIME_BOUNCE_SMTP_PORT: integer(0, 65535).optional(),
    RAGTIME_WEBHOOK_POSTMARK_SECRET: line.optional(),
    RAGTIME_WEBHOOK_RESEND_SECRET: line.optional(),
    RAGTIME_WEBHOOK_MAILGUN_SECRET: line.optional(),
    RAGTIME_WEBHOOK_SES_SECRET: z.string().optional(),
    RAGTIME_DNS_SERVERS: dnsServers.default([]),
    RAGTIME_MAIL_CONCURRENCY: integer(1, 100).default(DEFAULT_DELIVERY.concurrency),
    RAGTIME_MAIL_MAX_CONNECTIONS: integer(1, 1000).default(DEFAULT_DELIVERY.maxConnections),
    RAGTIME_MAIL_RATE: rate.optional(),
    RAGTIME_MAIL_DOMAIN_RATES: domainRates.default(new Map()),
    RAGTIME_MAIL_BATCH_SIZE: integer(1, 1000).default(DEFAULT_DELIVERY.batchSize),
    RAGTIME_MAIL_RETRY_FIRST: duration.default(DEFAULT_DELIVERY.retryFirstMs),
    RAGTIME_MAIL_RETRY_MAX: duration.default(DEFAULT_DELIVERY.retryMaxMs),
    RAGTIME_MAIL_GIVE_UP: duration.default(DEFAULT_DELIVERY.giveUpMs),
    RAGTIME_MAIL_LEASE: duration.default(DEFAULT_DELIVERY.leaseMs),
    RAGTIME_MAIL_SHUTDOWN_GRACE: duration.default(DEFAULT_DELIVERY.shutdownGraceMs),
    RAGTIME_MAIL_POLL: duration.default(DEFAULT_DELIVERY.pollMs),
    RAGTIME_MAIL_RETENTION: duration.default(DEFAULT_DELIVERY.retentionMs),
    RAGTIME_DEV_SMTP_PORT: integer(1, 65535).default(1025),
    RAGTIME_RATE_LIMITS: flag.default(true),
    RAGTIME_PASSWORD_COST: integer(10, 20).default(17),
    SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    RAGTIME_METRICS_TOKEN: z
      .string()
      .min(32, 'must be at least 32 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent in an Authorization header)')
      .optional(),
    // Applied by the CLI before the configuration loads (src/config/heap.ts); checked here with the rest.
    RAGTIME_HEAP: oneOf(HEAP_SIZINGS).default(DEFAULT_HEAP_SIZING),
    RAGTIME_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
}

type Env = Record<string, string | undefined>

/**
 * What the command about to run needs beyond a valid configuration. In production each need is
 * a required variable, checked with everything else so that one message lists every problem.
 */
export interface ConfigNeeds {
  /** It delivers mail (`serve`, `worker`): MAIL_SERVER. */
  readonly relay?: boolean
  /** It puts links and a sender into mail (`serve`, `mail send-test`): BASE_URL. */
  readonly baseUrl?: boolean
}

/**
 * Parses the environment once. Throws a {@link ConfigError} naming every bad variable, and in
 * production every missing one (`needs` adds the command's own); the result is deeply frozen.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd(), needs: ConfigNeeds = {}): Config {
  // An empty variable means "unset", as in a .env file with `NAME=`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema(cwd).safeParse(present)
  // Read from the raw values, so that they are listed together with any value that does not parse.
  const missing = productionRequirements(present, needs)
  if (!parsed.success) {
    throw new ConfigError([
      ...parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '?'), message: issue.message })),
      ...missing,
    ])
  }
  const e = parsed.data
  const problems: { variable: string; message: string }[] = [...missing]
  const production = e.NODE_ENV === 'production'
  const baseUrl = e.BASE_URL ?? `http://localhost:${e.PORT}`
  // Never the admin's mailbox: a personal address as From fails DMARC at every provider.
  const mailSender = e.RAGTIME_MAIL_SENDER ?? `Ragtime <noreply@${new URL(baseUrl).hostname}>`
  const sender = parseMailbox(mailSender)
  if (!sender) {
    problems.push({
      variable: e.RAGTIME_MAIL_SENDER ? 'RAGTIME_MAIL_SENDER' : 'BASE_URL',
      message: `the sender must be one address, such as "Ragtime <noreply@example.com>" (got "${mailSender}")`,
    })
  }
  let dkim: DkimConfig | undefined
  if (e.RAGTIME_DKIM_SELECTOR && !e.RAGTIME_DKIM_PRIVATE_KEY) {
    problems.push({ variable: 'RAGTIME_DKIM_PRIVATE_KEY', message: 'is needed with RAGTIME_DKIM_SELECTOR (a PEM, or the path of one)' })
  } else if (e.RAGTIME_DKIM_PRIVATE_KEY && !e.RAGTIME_DKIM_SELECTOR) {
    problems.push({ variable: 'RAGTIME_DKIM_SELECTOR', message: 'is needed with RAGTIME_DKIM_PRIVATE_KEY (the DNS label of the key: <selector>._domainkey.<domain>)' })
  } else if (e.RAGTIME_DKIM_SELECTOR && e.RAGTIME_DKIM_PRIVATE_KEY) {
    const key = readDkimKey(e.RAGTIME_DKIM_PRIVATE_KEY, cwd)
    if (!key.ok) problems.push({ variable: 'RAGTIME_DKIM_PRIVATE_KEY', message: key.message })
    else if (sender) {
      dkim = { selector: e.RAGTIME_DKIM_SELECTOR, domain: e.RAGTIME_DKIM_DOMAIN ?? domainOf(sender.address), privateKey: key.pem }
    }
  } else if (e.RAGTIME_DKIM_DOMAIN) {
    problems.push({ variable: 'RAGTIME_DKIM_DOMAIN', message: 'is only used with RAGTIME_DKIM_SELECTOR and RAGTIME_DKIM_PRIVATE_KEY' })
  }
  if (e.RAGTIME_BOUNCE_ADDRESS && /[+]/.test(e.RAGTIME_BOUNCE_ADDRESS.slice(0, e.RAGTIME_BOUNCE_ADDRESS.lastIndexOf('@')))) {
    problems.push({ variable: 'RAGTIME_BOUNCE_ADDRESS', message: 'must not contain "+": each message gets bounces+<id>-<mac>@… of its own' })
  }
  if (e.RAGTIME_BOUNCE_SMTP_PORT !== undefined && !e.RAGTIME_BOUNCE_ADDRESS) {
    problems.push({ variable: 'RAGTIME_BOUNCE_SMTP_PORT', message: 'receives bounces for RAGTIME_BOUNCE_ADDRESS: set it too' })
  }
  if (e.MAIL_USE_TLS && e.MAIL_USE_SSL) {
    problems.push({ variable: 'MAIL_USE_SSL', message: 'use either MAIL_USE_TLS (STARTTLS) or MAIL_USE_SSL, not both' })
  }
  if (e.MAIL_FALLBACK_USE_TLS && e.MAIL_FALLBACK_USE_SSL) {
    problems.push({
      variable: 'MAIL_FALLBACK_USE_SSL',
      message: 'use either MAIL_FALLBACK_USE_TLS (STARTTLS) or MAIL_FALLBACK_USE_SSL, not both',
    })
  }
  if (e.MAIL_FALLBACK_SERVER && !e.MAIL_SERVER) {
    problems.push({ variable: 'MAIL_FALLBACK_SERVER', message: 'is a fallback for MAIL_SERVER: set MAIL_SERVER too' })
  } else if (
    e.MAIL_FALLBACK_SERVER &&
    e.MAIL_FALLBACK_SERVER.toLowerCase() === e.MAIL_SERVER?.toLowerCase() &&
    e.MAIL_FALLBACK_PORT === e.MAIL_PORT
  ) {
    problems.push({ variable: 'MAIL_FALLBACK_SERVER', message: 'is the same server and port as MAIL_SERVER: name another relay' })
  }
  if (e.RAGTIME_MAIL_RETRY_MAX < e.RAGTIME_MAIL_RETRY_FIRST) {
    problems.push({ variable: 'RAGTIME_MAIL_RETRY_MAX', message: 'must not be shorter than RAGTIME_MAIL_RETRY_FIRST' })
  }
  if (e.RAGTIME_MAIL_LEASE < 1_000) {
    problems.push({ variable: 'RAGTIME_MAIL_LEASE', message: 'must be at least 1s' })
  }
  if (problems.length > 0) throw new ConfigError(problems)

  return deepFreeze<Config>({
    production,
    port: e.PORT,
    host: e.HOST,
    baseUrl,
    trustProxy: e.RAGTIME_TRUST_PROXY,
    metricsToken: e.RAGTIME_METRICS_TOKEN,
    database: e.DATABASE_URL,
    smtp: e.MAIL_SERVER
      ? {
          host: e.MAIL_SERVER,
          port: e.MAIL_PORT,
          startTls: e.MAIL_USE_TLS,
          secure: e.MAIL_USE_SSL,
          username: e.MAIL_USERNAME,
          password: e.MAIL_PASSWORD,
        }
      : undefined,
    smtpFallback:
      e.MAIL_SERVER && e.MAIL_FALLBACK_SERVER
        ? {
            host: e.MAIL_FALLBACK_SERVER,
            port: e.MAIL_FALLBACK_PORT,
            startTls: e.MAIL_FALLBACK_USE_TLS,
            secure: e.MAIL_FALLBACK_USE_SSL,
            username: e.MAIL_FALLBACK_USERNAME,
            password: e.MAIL_FALLBACK_PASSWORD,
          }
        : undefined,
    devSmtpPort: e.RAGTIME_DEV_SMTP_PORT,
    admin: e.RAGTIME_ADMIN,
    mailSubjectPrefix: e.RAGTIME_MAIL_SUBJECT_PREFIX,
    mailSender,
    dkim,
    bounceAddress: e.RAGTIME_BOUNCE_ADDRESS,
    bounceSmtpPort: e.RAGTIME_BOUNCE_SMTP_PORT,
    webhookSecrets: {
      postmark: e.RAGTIME_WEBHOOK_POSTMARK_SECRET,
      resend: e.RAGTIME_WEBHOOK_RESEND_SECRET,
      mailgun: e.RAGTIME_WEBHOOK_MAILGUN_SECRET,
      ses: e.RAGTIME_WEBHOOK_SES_SECRET,
    },
    dnsServers: e.RAGTIME_DNS_SERVERS,
    delivery: {
      // The starting point never exceeds the ceiling.
      concurrency: Math.min(e.RAGTIME_MAIL_CONCURRENCY, e.RAGTIME_MAIL_MAX_CONNECTIONS),
      maxConnections: e.RAGTIME_MAIL_MAX_CONNECTIONS,
      rate: e.RAGTIME_MAIL_RATE,
      domainRates: e.RAGTIME_MAIL_DOMAIN_RATES,
      batchSize: e.RAGTIME_MAIL_BATCH_SIZE,
      retryFirstMs: e.RAGTIME_MAIL_RETRY_FIRST,
      retryMaxMs: e.RAGTIME_MAIL_RETRY_MAX,
      giveUpMs: e.RAGTIME_MAIL_GIVE_UP,
      leaseMs: e.RAGTIME_MAIL_LEASE,
      shutdownGraceMs: e.RAGTIME_MAIL_SHUTDOWN_GRACE,
      pollMs: e.RAGTIME_MAIL_POLL,
      retentionMs: e.RAGTIME_MAIL_RETENTION,
    },
    rateLimits: e.RAGTIME_RATE_LIMITS,
    passwordCost: e.RAGTIME_PASSWORD_COST,
    logLevel: e.RAGTIME_LOG_LEVEL,
    secretKey: e.SECRET_KEY,
    dataDir: e.DATABASE_URL.kind === 'sqlite' ? path.dirname(e.DATABASE_URL.path) : path.resolve(cwd, 'data'),
  })
}

/** What production cannot run without: never a silent development default (localhost links, no relay). */
function productionRequirements(env: Env, needs: ConfigNeeds): { variable: string; message: string }[] {
  if (env.NODE_ENV?.trim() !== 'production') return []
  const problems: { variable: string; message: string }[] = []
  if (!env.SECRET_KEY) {
    problems.push({ variable: 'SECRET_KEY', message: 'is required when NODE_ENV=production (at least 32 random characters)' })
  }
  if (needs.baseUrl && !env.BASE_URL?.trim()) {
    problems.push({
      variable: 'BASE_URL',
      message:
        'is required when NODE_ENV=production: the absolute URL people reach the app at, such as https://ragtime.example.com (links in email point there, and mail is from noreply@ its host)',
    })
  }
  if (needs.relay && !env.MAIL_SERVER?.trim()) {
    problems.push({
      variable: 'MAIL_SERVER',
      message: 'is required when NODE_ENV=production to deliver mail: the SMTP relay, with MAIL_PORT, MAIL_USERNAME and MAIL_PASSWORD as it needs',
    })
  }
  return problems
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
