import type { Clock } from '../clock.ts'
import { recordFeedback } from '../feedback.ts'
import { type Logger, silentLogger } from '../options.ts'
import type { Outbox } from '../outbox.ts'
import type { Verp } from '../verp.ts'
import { readReport } from './reports.ts'

/** Reports are small; a bounce that returns a whole large message is cut off and refused. */
const MAX_MESSAGE_BYTES = 1024 * 1024
const MAX_RECIPIENTS = 10
/** Connections at once, in all and from one address: one sender cannot take every slot. */
const MAX_CLIENTS = 100
const MAX_CLIENTS_PER_ADDRESS = 10

export interface BounceReceiver {
  readonly port: number
  close(): Promise<void>
}

export interface BounceReceiverOptions {
  /** Where the reports are recorded. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any app's templates and prefix
  readonly outbox: Outbox<any, any>
  /** Default: the outbox's clock. */
  readonly clock?: Clock
  /** Default: silent. */
  readonly logger?: Logger
  /** The name in its greeting; default `bounces`. */
  readonly serverName?: string
  /** The bounce address: the bare address (feedback loops, bouncers that ignore VERP) is accepted too. */
  readonly bounceAddress: string
  readonly verp: Verp
  readonly host: string
  readonly port: number
}

/**
 * The bounce receiver: an SMTP server that takes mail for the bounce address and its VERP
 * addresses only (anything else is refused at RCPT TO, a forged VERP address included), reads
 * DSNs, ARF complaints and common non-standard bounces, and feeds them to the feedback pipeline.
 * Mail that is not a report, or names no message of ours, is accepted and dropped with a log
 * line (refusing it would only bounce it back to a mailer daemon).
 */
export async function startBounceReceiver(options: BounceReceiverOptions): Promise<BounceReceiver> {
  const { outbox, verp, host } = options
  const clock = options.clock ?? outbox.clock
  const logger = options.logger ?? silentLogger
  const bounceAddress = options.bounceAddress.toLowerCase()
  const { SMTPServer } = await import('smtp-server')
  const open = new Map<string, number>()
  const counted = new Set<string>()
  const server = new SMTPServer({
    name: options.serverName ?? 'bounces',
    banner: 'bounce receiver',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    size: MAX_MESSAGE_BYTES,
    maxClients: MAX_CLIENTS,
    socketTimeout: 30_000,
    logger: false,
    onConnect(session, callback) {
      const from = session.remoteAddress
      const now = open.get(from) ?? 0
      if (now >= MAX_CLIENTS_PER_ADDRESS) {
        callback(Object.assign(new Error('4.7.0 too many connections from your address, try again later'), { responseCode: 421 }))
        return
      }
      open.set(from, now + 1)
      counted.add(session.id)
      callback()
    },
    onClose(session) {
      if (!counted.delete(session.id)) return
      const left = (open.get(session.remoteAddress) ?? 1) - 1
      if (left > 0) open.set(session.remoteAddress, left)
      else open.delete(session.remoteAddress)
    },
    onRcptTo(address, session, callback) {
      const recipient = address.address.toLowerCase()
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) {
        callback(Object.assign(new Error('too many recipients'), { responseCode: 452 }))
      } else if (recipient === bounceAddress || verp.parse(recipient) !== null) {
        callback()
      } else {
        callback(Object.assign(new Error('5.1.1 no such address here'), { responseCode: 550 }))
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      let bytes = 0
      // smtp-server only flags an oversized message at its end: stop keeping it well before.
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes <= MAX_MESSAGE_BYTES) chunks.push(chunk)
      })
      stream.on('error', (err: Error) => callback(err))
      stream.on('end', () => {
        if (bytes > MAX_MESSAGE_BYTES || (stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          logger.warn({ from: session.envelope.mailFrom && session.envelope.mailFrom.address }, 'bounce receiver: refused a message over 1 MB')
          callback(Object.assign(new Error('5.3.4 message too big for a report'), { responseCode: 552 }))
          return
        }
        const ids = session.envelope.rcptTo.map((r) => verp.parse(r.address)).filter((id): id is number => id !== null)
        handle(Buffer.concat(chunks).toString('utf8'), ids).then(
          (summary) => callback(null, summary),
          (err: unknown) => {
            // Our database, most likely: the sender keeps the report and tries again.
            logger.error({ err }, 'bounce receiver: could not record a report; asked the sender to retry')
            callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }))
          },
        )
      })
    },
  })

  async function handle(raw: string, verpIds: readonly number[]): Promise<string> {
    let read
    try {
      read = readReport(raw)
    } catch (err) {
      logger.warn({ err }, 'bounce receiver: unreadable message, dropped')
      return 'dropped: unreadable'
    }
    if (read.format === 'none') {
      logger.info({ why: read.why, verpIds }, 'bounce receiver: not a delivery report, dropped')
      return 'dropped: not a report'
    }
    // One VERP address names the message; without one, the report's returned Message-ID does.
    const outboxId = verpIds.length === 1 ? verpIds[0] : undefined
    let recorded = 0
    for (const report of read.reports) {
      const result = await recordFeedback(
        outbox,
        {
          kind: report.kind,
          source: read.format === 'arf' ? 'arf' : 'dsn',
          eventId: report.reportId,
          outboxId,
          messageId: outboxId === undefined ? report.originalMessageId : undefined,
          status: report.status,
          recipient: report.recipient,
          detail: report.detail,
        },
        clock.now(),
      )
      if (result.outcome === 'unknown') {
        logger.warn({ format: read.format, messageId: report.originalMessageId }, 'bounce receiver: a report about no message of ours, ignored')
        continue
      }
      if (result.outcome === 'recorded') recorded++
      logger.info({ outboxId: result.outboxId, kind: report.kind, status: report.status, outcome: result.outcome }, `bounce receiver: ${report.kind} ${result.outcome}`)
    }
    return `${recorded} report${recorded === 1 ? '' : 's'} recorded`
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // A client's broken connection is its problem, never ours.
  server.on('error', (err) => logger.warn({ err }, 'bounce receiver: connection error'))
  const address = server.server.address()
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
