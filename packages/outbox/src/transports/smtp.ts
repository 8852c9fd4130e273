import { DEFAULT_DELIVERY, type SmtpOptions } from '../options.ts'
import { SmtpPool } from './smtp-pool.ts'
import type { MailTransport } from './transport.ts'

export interface SmtpTransportOptions extends SmtpOptions {
  /** The most connections open at once (the worker opens as many as it has in flight); default 50. */
  readonly maxConnections?: number
  /**
   * The most open until the worker sets its share of the relay's connections (setLimit); 0: the
   * pool opens nothing before that. Default maxConnections.
   */
  readonly initialLimit?: number
}

/** A pool of SMTP connections that sends pre-built messages as they are. */
export function smtpTransport(options: SmtpTransportOptions): MailTransport {
  const maxConnections = options.maxConnections ?? DEFAULT_DELIVERY.maxConnections
  const pool = new SmtpPool({
    connection: {
      host: options.host,
      port: options.port,
      secure: options.secure ?? false,
      // startTls on requires STARTTLS; off sends in the clear.
      requireTLS: options.startTls ?? false,
      ignoreTLS: !options.startTls && !options.secure,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    },
    auth: options.username ? { user: options.username, pass: options.password ?? '' } : undefined,
    maxConnections,
    initialLimit: options.initialLimit ?? maxConnections,
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
    setLimit(connections) {
      pool.setLimit(connections)
    },
  }
}
