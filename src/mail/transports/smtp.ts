import type { SmtpConfig } from '../../config/index.ts'
import { SmtpPool } from './smtp-pool.ts'
import type { MailTransport } from './transport.ts'

export interface SmtpTransportOptions extends SmtpConfig {
  /** The most connections open at once (RAGTIME_MAIL_CONCURRENCY). */
  readonly maxConnections: number
}

/** A pool of SMTP connections that sends pre-built messages as they are. */
export function smtpTransport(options: SmtpTransportOptions): MailTransport {
  const pool = new SmtpPool({
    connection: {
      host: options.host,
      port: options.port,
      secure: options.secure,
      // Flask-Mail's meaning: MAIL_USE_TLS on requires STARTTLS; off sends in the clear.
      requireTLS: options.startTls,
      ignoreTLS: !options.startTls && !options.secure,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    },
    auth: options.username ? { user: options.username, pass: options.password ?? '' } : undefined,
    maxConnections: options.maxConnections,
    maxMessages: 1000,
  })
  return {
    async send(mail) {
      const info = await pool.send({ from: mail.envelope.from, to: [...mail.envelope.to] }, mail.raw)
      return { response: String(info.response ?? '') }
    },
    close() {
      pool.close()
    },
  }
}
