import { connect as plainConnect, isIP, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { SmtpConfig } from '../../config/index.ts'
import type { Check } from './check.ts'

/** What talking to the relay showed. */
export interface RelayProbe {
  /** The address connected to, when the connection was made. */
  readonly address: string | undefined
  /** Why the conversation stopped early (refused, timeout, an unexpected reply…). */
  readonly error: string | undefined
  readonly greeting: string | undefined
  readonly starttlsOffered: boolean
  /** Set once TLS was up (from the start, or after STARTTLS). */
  readonly certificate: { readonly valid: boolean; readonly error: string | undefined; readonly subject: string | undefined; readonly validTo: string | undefined } | undefined
  /** AUTH mechanisms offered (after TLS when there was TLS). */
  readonly auth: readonly string[]
}

const TIMEOUT_MS = 10_000

/** Reads SMTP replies (`250-…` lines up to `250 …`) from a socket. */
class Replies {
  #buffer = ''
  #waiting: ((reply: string) => void) | undefined
  #failed: ((error: Error) => void) | undefined
  readonly #socket: Socket
  readonly #onData = (chunk: Buffer) => {
    this.#buffer += chunk.toString('latin1')
    this.#deliver()
  }
  readonly #onEnd = () => this.#failed?.(new Error('the relay closed the connection'))
  readonly #onError = (error: Error) => this.#failed?.(error)

  constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
  }

  #deliver(): void {
    const end = /^\d{3}(?: [^\r\n]*)?\r?\n/m.exec(this.#buffer)
    if (!end || !this.#waiting) return
    const reply = this.#buffer.slice(0, end.index + end[0].length)
    this.#buffer = this.#buffer.slice(reply.length)
    const resolve = this.#waiting
    this.#waiting = undefined
    this.#failed = undefined
    resolve(reply.trimEnd())
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting = resolve
      this.#failed = reject
      this.#deliver()
    })
  }

  async command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`)
    return this.next()
  }

  /** Stops reading, so that TLS can take the socket over. */
  detach(): void {
    this.#socket.off('data', this.#onData)
    this.#socket.off('end', this.#onEnd)
    this.#socket.off('error', this.#onError)
  }
}

function codeOf(reply: string): number {
  return Number(reply.slice(0, 3))
}

/** EHLO keywords (upper case) with their parameters. */
function extensions(reply: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const line of reply.split(/\r?\n/).slice(1)) {
    const [keyword = '', ...rest] = line.slice(4).trim().split(/\s+/)
    found.set(keyword.toUpperCase(), rest.join(' '))
  }
  return found
}

function certificateOf(socket: TLSSocket): NonNullable<RelayProbe['certificate']> {
  const peer = socket.getPeerCertificate()
  const error = socket.authorizationError as Error | string | null | undefined
  return {
    valid: socket.authorized,
    error: error === null || error === undefined ? undefined : typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? error.message),
    subject: typeof peer?.subject?.CN === 'string' ? peer.subject.CN : undefined,
    validTo: peer?.valid_to,
  }
}

function upgrade(socket: Socket, host: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // `host` is the name the certificate is checked against (an IP literal too); SNI only for names.
    const secure = tlsConnect({ socket, host, servername: isIP(host) ? undefined : host, rejectUnauthorized: false }, () => resolve(secure))
    secure.once('error', reject)
    secure.on('error', () => {})
  })
}

function open(relay: SmtpConfig): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const options = { host: relay.host, port: relay.port }
    const socket = relay.secure
      ? tlsConnect({ ...options, servername: isIP(relay.host) ? undefined : relay.host, rejectUnauthorized: false }, () => resolve(socket))
      : plainConnect(options, () => resolve(socket))
    socket.once('error', reject)
    // Late errors (after the conversation ended) are of no interest, but must not crash the process.
    socket.on('error', () => {})
  })
}

/**
 * Greets the relay as the worker would (EHLO, then STARTTLS when offered and not already on TLS),
 * never authenticating or sending, and reports what it saw. Never throws.
 */
export async function probeRelay(relay: SmtpConfig): Promise<RelayProbe> {
  let socket: Socket | undefined
  const seen: { -readonly [K in keyof RelayProbe]: RelayProbe[K] } = {
    address: undefined,
    error: undefined,
    greeting: undefined,
    starttlsOffered: false,
    certificate: undefined,
    auth: [],
  }
  let timeout: NodeJS.Timeout | undefined
  const timer = new Promise<never>((_, reject) => {
    timeout = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)
  })
  const talk = async () => {
    socket = await open(relay)
    seen.address = socket.remoteAddress
    if (relay.secure) seen.certificate = certificateOf(socket as TLSSocket)
    let replies = new Replies(socket)
    const greeting = await replies.next()
    seen.greeting = greeting
    if (codeOf(greeting) !== 220) throw new Error(`the relay's greeting is not 220: ${greeting}`)
    const me = hostname() || 'localhost'
    let ehlo = await replies.command(`EHLO ${me}`)
    if (codeOf(ehlo) !== 250) throw new Error(`EHLO refused: ${ehlo}`)
    seen.starttlsOffered = extensions(ehlo).has('STARTTLS')
    if (!relay.secure && seen.starttlsOffered) {
      const ready = await replies.command('STARTTLS')
      if (codeOf(ready) !== 220) throw new Error(`STARTTLS offered but refused: ${ready}`)
      replies.detach()
      socket = await upgrade(socket, relay.host)
      seen.certificate = certificateOf(socket as TLSSocket)
      replies = new Replies(socket)
      ehlo = await replies.command(`EHLO ${me}`)
      if (codeOf(ehlo) !== 250) throw new Error(`EHLO after STARTTLS refused: ${ehlo}`)
    }
    seen.auth = (extensions(ehlo).get('AUTH') ?? '').split(/\s+/).filter(Boolean)
    await Promise.race([replies.command('QUIT'), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]).catch(() => {})
  }
  try {
    await Promise.race([talk(), timer])
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    seen.error = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message
  } finally {
    clearTimeout(timeout)
    ;(socket as Socket | undefined)?.destroy()
  }
  return seen
}

/** Plain words for the certificate errors a relay is likely to show. */
const CERTIFICATE_WORDS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'it chains to a self-signed certificate no trusted authority issued',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'no trusted authority issued it (or the relay does not send the intermediate certificate)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'no trusted authority issued it (or the relay does not send the intermediate certificate)',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it is issued for another host name',
}

/**
 * The relay: reachable, TLS (from the start with MAIL_USE_SSL, else STARTTLS, which MAIL_USE_TLS
 * makes the worker require), and a certificate valid for MAIL_SERVER.
 */
export function relayCheck(relay: SmtpConfig | undefined, production: boolean, probe: RelayProbe | undefined): Check {
  if (!relay || !probe) {
    return {
      name: 'relay',
      status: production ? 'fail' : 'warn',
      message: production
        ? 'MAIL_SERVER is not set: serve and worker refuse to start in production. Set MAIL_SERVER (and MAIL_PORT, MAIL_USE_TLS, MAIL_USERNAME, MAIL_PASSWORD).'
        : 'MAIL_SERVER is not set: mail goes to the development inbox and never leaves this machine. Set MAIL_SERVER to check a real relay.',
    }
  }
  const at = `${relay.host}:${relay.port}`
  const details = {
    host: relay.host,
    port: relay.port,
    address: probe.address ?? null,
    tls: relay.secure ? 'implicit' : probe.starttlsOffered ? 'starttls' : 'none',
    certificate: probe.certificate ?? null,
    auth: probe.auth,
    greeting: probe.greeting ?? null,
  }
  if (probe.error !== undefined && probe.greeting === undefined) {
    const hint =
      !relay.secure && relay.port === 465
        ? ' Port 465 expects TLS from the first byte: set MAIL_USE_SSL=1.'
        : relay.secure && relay.port !== 465
          ? ` MAIL_USE_SSL is set: is port ${relay.port} one that expects TLS from the first byte (usually 465)?`
          : ''
    return { name: 'relay', status: 'fail', message: `Relay ${at}: cannot talk to it (${probe.error}).${hint}`, details }
  }
  if (probe.error !== undefined && probe.certificate === undefined && !probe.starttlsOffered) {
    return { name: 'relay', status: 'fail', message: `Relay ${at}: ${probe.error}.`, details }
  }
  const certificate = probe.certificate
  const certWords = (c: NonNullable<RelayProbe['certificate']>) =>
    c.valid
      ? `its certificate is valid for ${relay.host}${c.validTo ? ` (until ${c.validTo})` : ''}`
      : `its certificate is NOT valid for ${relay.host}: ${CERTIFICATE_WORDS[c.error ?? ''] ?? c.error ?? 'not trusted'} (${c.error ?? 'untrusted'}${c.subject ? `, issued to ${c.subject}` : ''})`
  const authWords = probe.auth.length > 0 ? ` It offers AUTH ${probe.auth.join(' ')} (the login itself is not tried).` : ''
  if (relay.secure) {
    if (!certificate?.valid) {
      return {
        name: 'relay',
        status: 'fail',
        message: `Relay ${at}: TLS from the start (MAIL_USE_SSL), but ${certWords(certificate ?? { valid: false, error: undefined, subject: undefined, validTo: undefined })}. The worker checks certificates, so it will not send through this relay.`,
        details,
      }
    }
    return { name: 'relay', status: probe.error ? 'fail' : 'ok', message: `Relay ${at}: TLS from the start (MAIL_USE_SSL), and ${certWords(certificate)}.${authWords}${probe.error ? ` But: ${probe.error}.` : ''}`, details }
  }
  if (!probe.starttlsOffered) {
    return {
      name: 'relay',
      status: 'fail',
      message:
        `Relay ${at}: it does not offer STARTTLS on this port, so the password and every email would cross the network in clear. ` +
        'Use the port where it offers STARTTLS (usually 587, with MAIL_USE_TLS=1) or TLS from the start (usually 465, with MAIL_USE_SSL=1).',
      details,
    }
  }
  if (!certificate) return { name: 'relay', status: 'fail', message: `Relay ${at}: it offers STARTTLS, but the upgrade failed (${probe.error ?? 'unknown error'}).`, details }
  if (!certificate.valid) {
    return {
      name: 'relay',
      status: 'fail',
      message: `Relay ${at}: it offers STARTTLS, but ${certWords(certificate)}. ${relay.startTls ? 'The worker checks certificates, so it will not send through this relay.' : 'A client that checks certificates would refuse it.'}`,
      details,
    }
  }
  if (!relay.startTls) {
    return {
      name: 'relay',
      status: 'fail',
      message:
        `Relay ${at}: it offers STARTTLS and ${certWords(certificate)}, but MAIL_USE_TLS is off, so Ragtime does not use it: ` +
        'the password and every email cross the network in clear. Set MAIL_USE_TLS=1.',
      details,
    }
  }
  return {
    name: 'relay',
    status: probe.error ? 'fail' : 'ok',
    message: `Relay ${at}: it offers STARTTLS (required: MAIL_USE_TLS=1), and ${certWords(certificate)}.${authWords}${probe.error ? ` But: ${probe.error}.` : ''}`,
    details,
  }
}
