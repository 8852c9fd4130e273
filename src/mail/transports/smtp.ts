import nodemailer from 'nodemailer'
import type { SmtpConfig } from '../../config/index.ts'
import type { MailTransport } from './transport.ts'

export interface SmtpTransportOptions extends SmtpConfig {
  /** The most connections open at once (RAGTIME_MAIL_CONCURRENCY). */
  readonly maxConnections: number
}

/** A nodemailer connection pool that sends pre-built messages as they are. */
export function smtpTransport(options: SmtpTransportOptions): MailTransport {
  const transporter = nodemailer.createTransport({
    pool: true,
    host: options.host,
    port: options.port,
    secure: options.secure,
    // Flask-Mail's meaning: MAIL_USE_TLS on requires STARTTLS; off sends in the clear.
    requireTLS: options.startTls,
    ignoreTLS: !options.startTls && !options.secure,
    auth: options.username ? { user: options.username, pass: options.password ?? '' } : undefined,
    maxConnections: options.maxConnections,
    maxMessages: 1000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
    disableFileAccess: true,
    disableUrlAccess: true,
  })
  return {
    async send(mail) {
      const info = await transporter.sendMail({
        envelope: { from: mail.envelope.from, to: [...mail.envelope.to] },
        raw: mail.raw,
      })
      return { response: String(info.response ?? '') }
    },
    close() {
      transporter.close()
    },
  }
}
