import type { Socket } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'

/** What the sink should answer to one message: accept, or an SMTP error. */
export type Verdict = 'accept' | { code: number; message: string }

export interface SinkOptions {
  /** Listen on this port (to come up where a worker already points); any free port by default. */
  port?: number
  /** Decides each message's fate; `n` counts messages from 1. May wait before answering. */
  verdict?: (n: number, raw: string) => Verdict | Promise<Verdict>
  /** The answer to MAIL FROM (the envelope sender); accepted when unset. */
  onMailFrom?: (address: string) => Verdict | Promise<Verdict>
  /** The answer to each RCPT TO (one envelope recipient); accepted when unset. */
  onRcptTo?: (address: string) => Verdict | Promise<Verdict>
  /** Leave PIPELINING out of the EHLO reply, so the client waits for each envelope answer. */
  noPipelining?: boolean
  /** Close a connection that sends nothing for this long (421 first), as relays do; 60 s by default. */
  idleTimeoutMs?: number
  /** Greet connections beyond this many open with `421 4.7.0 Too many connections`, and close them. */
  connectionLimit?: number
}

export interface ReceivedMail {
  readonly raw: string
  readonly envelope: { from: string; to: string[] }
}

/** A real SMTP server (smtp-server) on 127.0.0.1 that keeps every message it accepts. */
export interface SmtpSink {
  readonly port: number
  readonly received: ReceivedMail[]
  /** Messages offered so far, accepted or not. */
  readonly offered: () => number
  /** Open now, the most open at once, opened in all, and turned away (connectionLimit). */
  readonly connections: { current: number; max: number; opened: number; refused: number }
  /** SMTP commands received so far, by verb (`NOOP`, `MAIL`, `QUIT`, …), over every connection. */
  readonly commands: Record<string, number>
  /** Cuts every client connection, the way a server ending idle sessions does. */
  dropConnections(): void
  parse(index: number): Promise<ParsedMail>
  /** Resolves once `count` messages were accepted. */
  waitForAccepted(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** Calls back with the verdict's SMTP error, or with none to accept. */
function answer(verdict: Verdict | Promise<Verdict> | undefined, callback: (err?: Error | null) => void): void {
  Promise.resolve(verdict ?? 'accept').then(
    (v) => callback(v === 'accept' ? null : Object.assign(new Error(v.message), { responseCode: v.code })),
    callback,
  )
}

export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = []
  const connections = { current: 0, max: 0, opened: 0, refused: 0 }
  const commands: Record<string, number> = {}
  // smtp-server has no hook per command, but logs each one at debug level with its verb.
  const countCommands = {
    debug(entry: { tnx?: unknown; command?: unknown }) {
      if (entry?.tnx === 'command' && typeof entry.command === 'string') commands[entry.command] = (commands[entry.command] ?? 0) + 1
    },
    trace() {},
    info() {},
    warn() {},
    error() {},
    fatal() {},
  }
  const sockets = new Set<Socket>()
  const waiters: { count: number; resolve: () => void }[] = []
  let offered = 0
  /** Sessions counted in `connections.current` (not those turned away). */
  const counted = new Set<string>()

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    closeTimeout: 500,
    logger: countCommands as unknown as SMTPServerOptions['logger'],
    ...(options.noPipelining ? { hidePIPELINING: true } : {}),
    ...(options.idleTimeoutMs ? { socketTimeout: options.idleTimeoutMs } : {}),
    onMailFrom(address, _session, callback) {
      answer(options.onMailFrom?.(address.address), callback)
    },
    onRcptTo(address, _session, callback) {
      answer(options.onRcptTo?.(address.address), callback)
    },
    onConnect(session: SMTPServerSession, callback: (err?: Error) => void) {
      if (options.connectionLimit !== undefined && connections.current >= options.connectionLimit) {
        connections.refused++
        callback(Object.assign(new Error('4.7.0 Too many connections, try again later'), { responseCode: 421 }))
        return
      }
      counted.add(session.id)
      connections.current++
      connections.opened++
      connections.max = Math.max(connections.max, connections.current)
      callback()
    },
    onClose(session: SMTPServerSession) {
      if (counted.delete(session.id)) connections.current--
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const n = ++offered
        Promise.resolve(options.verdict ? options.verdict(n, raw) : 'accept').then((verdict) => {
          if (verdict !== 'accept') {
            const err = Object.assign(new Error(verdict.message), { responseCode: verdict.code })
            callback(err)
            return
          }
          received.push({
            raw,
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
          })
          callback(null, `queued as ${n}`)
          for (const waiter of waiters.filter((w) => received.length >= w.count)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.resolve()
          }
        }, callback)
      })
    },
  })
  server.on('error', () => {})
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  return {
    port,
    received,
    offered: () => offered,
    connections,
    commands,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy()
    },
    parse: (index) => simpleParser(received[index]?.raw ?? ''),
    waitForAccepted(count, timeoutMs = 30_000) {
      if (received.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`sink accepted ${received.length} of ${count} messages in ${timeoutMs} ms`)),
          timeoutMs,
        )
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
      })
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
