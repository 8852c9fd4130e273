import type { Logger } from 'pino'
import type { DevInboxStore } from './inbox-store.ts'

const MAX_MESSAGE_BYTES = 10 * 1024 * 1024

export interface CaptureServer {
  readonly port: number
  close(): Promise<void>
}

/**
 * The development SMTP server: accepts every message on 127.0.0.1 (no auth, no TLS) and keeps
 * it in the dev inbox. Real mail still travels over SMTP, so the demo runs the production path.
 */
export async function startCaptureServer({
  store,
  port,
  logger,
}: {
  store: DevInboxStore
  port: number
  logger: Logger
}): Promise<CaptureServer> {
  // Loaded here, not with the module: only development without MAIL_SERVER needs them, and they
  // weigh ~20 MB of memory in every other process (production, workers).
  const [{ simpleParser }, { SMTPServer }] = await Promise.all([import('mailparser'), import('smtp-server')])
  const server = new SMTPServer({
    name: 'ragtime-dev-inbox',
    banner: 'Ragtime dev inbox: mail is kept, never delivered',
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('message too large for the dev inbox'), { responseCode: 552 }))
          return
        }
        const raw = Buffer.concat(chunks)
        simpleParser(raw)
          .then((mail) =>
            store.add({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: mail.subject ?? '(no subject)',
              date: mail.date ? mail.date.getTime() : null,
              text: mail.text ?? '',
              html: typeof mail.html === 'string' ? mail.html : null,
              headers: raw.subarray(0, headerEnd(raw)).toString('utf8'),
              raw: raw.toString('utf8'),
              receivedAt: Date.now(),
            }),
          )
          .then(
            (id) => callback(null, `kept in the dev inbox as message ${id}`),
            (err: unknown) => {
              logger.error({ err }, 'dev inbox could not keep a message')
              callback(Object.assign(new Error('the dev inbox could not keep this message'), { responseCode: 451 }))
            },
          )
      })
    },
  })
  server.on('error', (err) => logger.error({ err }, 'dev inbox SMTP server error'))
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const address = server.server.address()
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n')
  if (crlf >= 0) return crlf
  const lf = raw.indexOf('\n\n')
  return lf >= 0 ? lf : raw.length
}
