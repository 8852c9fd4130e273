import SMTPConnection from 'nodemailer/lib/smtp-connection'

/**
 * How long a connection may sit idle before the pool says NOOP on it. RFC 5321 (4.5.3.2.7) has
 * servers wait at least 5 minutes for a command, but relays often close idle sessions far sooner
 * (Postfix under stress after 10 s, cloud relays after 10-60 s), and our own socketTimeout (60 s
 * in smtp.ts) would end a silent connection too: 20 s keeps the warm connection alive through
 * all of these. The NOOP costs one line each way.
 */
export const KEEPALIVE_INTERVAL_MS = 20_000

/**
 * NOOPs one connection says before it is replaced (QUIT, then a fresh one opens in the
 * background). Servers count commands that carry no mail against a session: Exim drops it
 * after 10 by default (smtp_accept_max_nonmail), sendmail slows its replies down after 20
 * (MaxNOOPCommands), Postfix starts counting errors after 100 (smtpd_junk_command_limit).
 * 8 stays under all of them; at 20 s apart an idle pool reconnects about every 3 minutes.
 */
export const NOOPS_PER_CONNECTION = 8

/**
 * Reopening the warm connection after the server refused or dropped it: the first try waits
 * about `initialMs`, each failure in a row doubles it up to `maxMs` (with jitter, so that the
 * workers of a fleet do not knock together). A dead relay sees about one attempt a minute.
 */
export const REOPEN_BACKOFF = { initialMs: 1_000, maxMs: 60_000 } as const

export interface SmtpPoolOptions {
  /** How to reach and greet the server (host, port, TLS, timeouts). */
  readonly connection: SMTPConnection.Options
  readonly auth: SMTPConnection.AuthenticationType | undefined
  /** The most connections open at once. */
  readonly maxConnections: number
  /** Messages a connection sends before it says QUIT and a fresh one takes its place. */
  readonly maxMessages: number
  /**
   * The pool keeps one connection open from its creation to close(), even when no mail
   * flows, so a message after a quiet spell does not wait for a connection to open. A
   * connection idle this long says NOOP (or QUIT, when another is open). 0 turns warming and
   * NOOPs off: idle connections then stay until the server or the socket timeout ends them.
   * Kept under half the connection's socketTimeout. Default KEEPALIVE_INTERVAL_MS.
   */
  readonly keepAliveMs?: number
  /** NOOPs a connection says before it is replaced. Default NOOPS_PER_CONNECTION. */
  readonly noopsPerConnection?: number
  /** Back-off between attempts to reopen the warm connection. Default REOPEN_BACKOFF. */
  readonly reopenBackoff?: { readonly initialMs: number; readonly maxMs: number }
  /**
   * The most connections open until setLimit() says otherwise. Default maxConnections; 0 for a
   * worker's pool, which opens nothing (not even the warm connection) before the worker knows
   * its share of the relay's connections.
   */
  readonly initialLimit?: number
}

interface Pooled {
  readonly connection: SMTPConnection
  /** Messages accepted over this connection. */
  sent: number
  /** NOOPs answered over this connection. */
  noops: number
  /** It accepted a message or answered a NOOP: the server keeps it, not only its handshake. */
  proven: boolean
  /** It waited in the idle list at least once (where the server may close it unseen). */
  rested: boolean
  /** Opening; in the idle list; saying NOOP (not to be handed out); or with a sender. */
  state: 'opening' | 'idle' | 'noop' | 'busy'
  /** Fires `keepAliveMs` after it went idle or said NOOP; made once, then refresh()ed. */
  timer: NodeJS.Timeout | undefined
  /** Closing or closed: never handed out again. */
  gone: boolean
  /** While the connection opens: fails the send waiting for it. */
  failOpening: ((error: Error) => void) | undefined
  /**
   * While it sends: rejects that send. SMTPConnection.close() forgets the callback of a send in
   * flight, so a connection ending under a send must reject it here or the send would wait
   * forever. It holds the promise's own `reject`, not a closure made per message: with one
   * here the old generation of a long drain grew by ~1 KB per message (measured on Node 20).
   */
  failSend: ((error: Error) => void) | undefined
}

type Waiter = { resolve: (pooled: Pooled) => void; reject: (error: Error) => void }


/**
 * Up to `maxConnections` SMTP connections, each reused for up to `maxMessages` messages, that
 * send messages already in wire format.
 *
 * Built on nodemailer's SMTPConnection rather than its pooled transport: the transport parses a
 * raw message into a MIME tree and streams it out through a `stream.pipeline` of three streams
 * per message, which costs CPU the outbox already spent at enqueue, and on Node 20 an
 * AbortSignal per message that survives into the old generation. Here the stored string is
 * written to the connection as it is. SMTPConnection pipelines the envelope by itself: when the
 * server's EHLO lists PIPELINING, MAIL FROM, every RCPT TO and DATA leave in one write and the
 * replies are read together (RFC 2920), one round trip instead of 2 + recipients.
 *
 * While idle the pool stays warm (see `keepAliveMs`): one connection is kept open with NOOPs,
 * reopened in the background when the server drops it or after `maxMessages`, with back-off
 * while the server cannot be reached. Further idle connections say QUIT after `keepAliveMs`.
 */
export class SmtpPool {
  readonly #options: Required<SmtpPoolOptions>
  /**
   * Every connection open, opening or saying QUIT. One leaves the count when SMTPConnection
   * ends it, which is as its socket starts closing: the server may see the next one open
   * while the last FIN is on its way, as with nodemailer's own pool.
   */
  readonly #all = new Set<Pooled>()
  /** Connected, logged in and not sending. */
  readonly #idle: Pooled[] = []
  /** Sends waiting for a connection, first come first served. */
  readonly #waiting: Waiter[] = []
  /** Connections opening (connecting, greeting, logging in). */
  #opening = 0
  /** The most open now: maxConnections, or less (see setLimit). */
  #limit: number
  #closed = false
  /** Connections in a row that failed or ended before they proved themselves (see Pooled.proven). */
  #failures = 0
  /**
   * The server refused the login, TLS or the client (5xx): retrying in the background would
   * only repeat it (and could lock the account). Sends still try, at the worker's pace; one
   * that succeeds turns warming back on.
   */
  #warmingPaused = false
  /** The next background attempt to reopen the warm connection. */
  #reopenTimer: NodeJS.Timeout | undefined

  constructor(options: SmtpPoolOptions) {
    const socketTimeout = options.connection.socketTimeout
    let keepAliveMs = Math.max(0, options.keepAliveMs ?? KEEPALIVE_INTERVAL_MS)
    if (socketTimeout && keepAliveMs > socketTimeout / 2) keepAliveMs = Math.floor(socketTimeout / 2)
    this.#options = {
      ...options,
      maxConnections: Math.max(1, options.maxConnections),
      maxMessages: Math.max(1, options.maxMessages),
      keepAliveMs,
      noopsPerConnection: Math.max(0, options.noopsPerConnection ?? NOOPS_PER_CONNECTION),
      reopenBackoff: options.reopenBackoff ?? REOPEN_BACKOFF,
      initialLimit: Math.max(0, Math.min(options.initialLimit ?? options.maxConnections, options.maxConnections)),
    }
    this.#limit = this.#options.initialLimit
    this.#keepWarm()
  }

  /** Sends `raw` (CRLF line ends) to the envelope's recipients; resolves with the server's reply. */
  async send(envelope: { from: string; to: string[] }, raw: string): Promise<SMTPConnection.SentMessageInfo> {
    let pooled: Pooled
    try {
      pooled = await this.#acquire()
    } catch (error) {
      // No connection could be opened (refused, timed out, a 421 greeting, a refused login):
      // not a byte of this message reached the server.
      throw markNothingSent(error)
    }
    try {
      return await this.#sendOn(pooled, envelope, raw)
    } catch (error) {
      // A reused or warm connection can be closed by the server (its idle timeout) just as it
      // is handed out. The message goes once more over another connection now, rather than after
      // the worker's back-off: a retry later would carry the same small risk of a duplicate.
      if (!(pooled.proven || pooled.rested) || !connectionDropped(error)) throw error
      return this.#sendOn(await this.#acquire(), envelope, raw)
    }
  }

  async #sendOn(pooled: Pooled, envelope: { from: string; to: string[] }, raw: string): Promise<SMTPConnection.SentMessageInfo> {
    let info: SMTPConnection.SentMessageInfo
    try {
      info = await new Promise((resolve, reject) => {
        pooled.failSend = reject
        pooled.connection.send(envelope, raw, (error, sent) => (error ? reject(error) : resolve(sent!)))
      })
    } catch (error) {
      this.#afterFailure(pooled, error)
      throw error
    } finally {
      pooled.failSend = undefined
    }
    pooled.sent++
    this.#proven(pooled)
    this.#release(pooled)
    return info
  }

  /**
   * Lowers (or raises, up to the configured maximum) how many connections may be open: the
   * worker's share of the relay's connections. Idle connections beyond it say QUIT now; at 0
   * none is kept warm.
   */
  setLimit(limit: number): void {
    this.#limit = Math.max(0, Math.min(this.#options.maxConnections, Math.floor(limit)))
    while (this.#idle.length > 0 && this.#live() > this.#limit) this.#drop(this.#idle[0] as Pooled, 'quit')
    this.#openForWaiters()
    this.#keepWarm()
  }

  /** Connections open or opening, not on their way out. */
  #live(): number {
    let n = 0
    for (const pooled of this.#all) if (!pooled.gone) n++
    return n
  }

  /**
   * Closes every connection and stops keeping one warm (no timer is left behind); sends still
   * running and sends waiting for a connection reject.
   */
  close(): void {
    this.#closed = true
    clearTimeout(this.#reopenTimer)
    this.#reopenTimer = undefined
    for (const waiter of this.#waiting.splice(0)) waiter.reject(poolClosed())
    for (const pooled of [...this.#all]) {
      this.#lost(pooled, poolClosed())
      clearTimeout(pooled.timer)
      pooled.connection.close() // also one still saying QUIT
    }
  }

  #acquire(): Promise<Pooled> {
    if (this.#closed) return Promise.reject(poolClosed())
    const idle = this.#idle.pop()
    if (idle) {
      idle.state = 'busy'
      return Promise.resolve(idle)
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#openForWaiters()
    })
  }

  /**
   * Opens connections while sends wait and the limit allows; each serves the first waiter.
   * One saying NOOP is not counted on: it is free again in a round trip, but a server that
   * does not answer would hold the send for the whole keep-alive interval.
   */
  #openForWaiters(): void {
    while (!this.#closed && this.#waiting.length > this.#opening && this.#all.size < this.#limit) {
      this.#open()
    }
  }

  /**
   * Keeps one connection open or opening while the pool is idle: at once after a connection
   * that worked, after a back-off when the last ones failed. Never past maxConnections, which
   * counts one still saying QUIT (its 'end' calls this again).
   */
  #keepWarm(backedOff = false): void {
    if (this.#closed || this.#options.keepAliveMs === 0 || this.#warmingPaused || this.#reopenTimer) return
    if (this.#all.size >= this.#limit) return
    for (const pooled of this.#all) if (!pooled.gone) return
    if (this.#failures === 0 || backedOff) {
      this.#open()
      return
    }
    const { initialMs, maxMs } = this.#options.reopenBackoff
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.#failures - 1, 30))
    this.#reopenTimer = setTimeout(this.#reopen, ceiling / 2 + (Math.random() * ceiling) / 2)
    this.#reopenTimer.unref()
  }

  readonly #reopen = (): void => {
    this.#reopenTimer = undefined
    this.#keepWarm(true)
  }

  #open(): void {
    const connection = new SMTPConnection(this.#options.connection)
    const pooled: Pooled = {
      connection,
      sent: 0,
      noops: 0,
      proven: false,
      rested: false,
      state: 'opening',
      timer: undefined,
      gone: false,
      failOpening: undefined,
      failSend: undefined,
    }
    const auth = this.#options.auth
    this.#all.add(pooled)
    this.#opening++
    // Opening for as long as failOpening is set.
    const finishOpening = () => {
      this.#opening--
      pooled.failOpening = undefined
    }
    pooled.failOpening = (error) => {
      finishOpening()
      if (refusesClient(error)) this.#warmingPaused = true
      // The first waiter learns why; the others keep waiting for a connection of their own.
      this.#waiting.shift()?.reject(error)
    }
    const ready = () => {
      if (!pooled.failOpening) return
      finishOpening()
      this.#release(pooled)
    }
    // A connection that cannot open mostly says so with 'error' (connect() calls back with an
    // error only when the server hangs up before its greeting).
    connection.on('error', (error) => this.#lost(pooled, error))
    connection.on('end', () => {
      this.#lost(pooled, connectionClosed())
      clearTimeout(pooled.timer)
      this.#all.delete(pooled)
      if (!pooled.proven) this.#failures++
      this.#openForWaiters()
      this.#keepWarm()
    })
    connection.connect((error) => {
      if (error) return this.#lost(pooled, error)
      if (!auth) return ready()
      connection.login(auth, (error) => (error ? this.#lost(pooled, error) : ready()))
    })
  }

  /** Hands a connection that finished a message to the next waiter, or keeps it idle. */
  #release(pooled: Pooled): void {
    if (pooled.gone) return
    if (this.#closed || pooled.sent >= this.#options.maxMessages || this.#live() > this.#limit) {
      this.#drop(pooled, 'quit')
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter) {
      pooled.state = 'busy'
      waiter.resolve(pooled)
      return
    }
    pooled.state = 'idle'
    pooled.rested = true
    this.#idle.push(pooled)
    this.#armTimer(pooled)
  }

  /** (Re)starts the connection's keep-alive timer; one Timeout per connection, not per message. */
  #armTimer(pooled: Pooled): void {
    if (this.#options.keepAliveMs === 0) return
    if (pooled.timer) pooled.timer.refresh()
    else {
      pooled.timer = setTimeout(this.#onTimer, this.#options.keepAliveMs, pooled)
      pooled.timer.unref()
    }
  }

  /**
   * `keepAliveMs` after the connection went idle: NOOP if it is the only one open, QUIT if
   * another is (or it said its share of NOOPs: a fresh one replaces it). `keepAliveMs` after a
   * NOOP that got no answer: close it. A connection with a sender ignores the timer.
   */
  readonly #onTimer = (pooled: Pooled): void => {
    if (pooled.gone || this.#closed) return
    if (pooled.state === 'noop') return this.#drop(pooled, 'close')
    if (pooled.state !== 'idle') return
    let others = 0
    for (const other of this.#all) if (other !== pooled && !other.gone) others++
    if (others > 0 || pooled.noops >= this.#options.noopsPerConnection) return this.#drop(pooled, 'quit')
    this.#idle.splice(this.#idle.indexOf(pooled), 1)
    pooled.state = 'noop'
    pooled.timer?.refresh()
    noop(pooled.connection, (error) => {
      if (pooled.gone) return
      if (error) return this.#drop(pooled, 'close')
      pooled.noops++
      this.#proven(pooled)
      this.#release(pooled)
    })
  }

  /** The server took a message or a NOOP on this connection: it works, warming may go on. */
  #proven(pooled: Pooled): void {
    pooled.proven = true
    this.#failures = 0
    this.#warmingPaused = false
  }

  /**
   * A refused message (the server answered MAIL FROM, RCPT TO or DATA with an error) leaves a
   * good connection: reset it and go on. Anything else (network, timeout, 421) closes it.
   */
  #afterFailure(pooled: Pooled, error: unknown): void {
    const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown }
    const refused = (code === 'EENVELOPE' || code === 'EMESSAGE') && responseCode !== 421
    if (!refused || pooled.gone) {
      this.#drop(pooled, 'close')
      return
    }
    pooled.connection.reset((resetError) => {
      if (resetError) this.#drop(pooled, 'close')
      else this.#release(pooled)
    })
  }

  /** The connection failed or ended: whoever depended on it hears why, and it is closed. */
  #lost(pooled: Pooled, error: Error): void {
    const { failOpening, failSend } = pooled
    pooled.failOpening = undefined
    pooled.failSend = undefined
    failOpening?.(error)
    // Deferred: when nodemailer closes the connection before calling back (a 421 to a
    // pipelined envelope), its own error, which carries the server's reply, must win.
    if (failSend) process.nextTick(failSend, error)
    this.#drop(pooled, 'close')
  }

  /** Takes a connection out of use; it leaves the count once its 'end' event comes. */
  #drop(pooled: Pooled, how: 'quit' | 'close'): void {
    if (pooled.gone) return
    pooled.gone = true
    clearTimeout(pooled.timer)
    const index = this.#idle.indexOf(pooled)
    if (index >= 0) this.#idle.splice(index, 1)
    if (how === 'quit') pooled.connection.quit()
    else pooled.connection.close()
  }
}

/**
 * Says NOOP and calls back with its outcome. SMTPConnection has no method for it (its reset()
 * says RSET), so this queues the reply handler and writes the command the way its own
 * commands do. Should a nodemailer upgrade take those internals away, RSET, which an idle
 * session takes the same way, stands in (the pool's tests check that NOOP is what is sent).
 */
function noop(connection: SMTPConnection, callback: (error?: Error) => void): void {
  const internals = connection as unknown as { _sendCommand?: unknown; _responseActions?: unknown }
  if (typeof internals._sendCommand !== 'function' || !Array.isArray(internals._responseActions)) {
    connection.reset((error) => callback(error ?? undefined))
    return
  }
  ;(internals._responseActions as ((reply: string) => void)[]).push((reply) =>
    callback(reply.startsWith('2') ? undefined : Object.assign(new Error(`NOOP refused: ${reply}`), { code: 'EPROTOCOL', response: reply })),
  )
  ;(internals._sendCommand as (command: string) => void).call(connection, 'NOOP')
}

/** The server will not take this client as configured: a wrong login, TLS it lacks, a 5xx. */
function refusesClient(error: unknown): boolean {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown }
  return code === 'EAUTH' || code === 'ETLS' || (typeof responseCode === 'number' && responseCode >= 500)
}

const NOTHING_SENT = Symbol('outbox.nothingSent')

function markNothingSent(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) Object.defineProperty(error, NOTHING_SENT, { value: true })
  return error
}

/**
 * The send failed before any of the message reached the server: no connection could be opened
 * for it (refused, timed out, greeting or login refused). Sending it elsewhere cannot duplicate it.
 */
export function nothingSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[NOTHING_SENT] === true
}

function poolClosed(): Error {
  return Object.assign(new Error('SMTP connection pool was closed'), { code: 'ECONNECTION' })
}

function connectionClosed(): Error {
  return Object.assign(new Error('SMTP connection closed'), { code: 'ECONNECTION' })
}

/** The connection went away under the send without the server answering it. */
function connectionDropped(error: unknown): boolean {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown }
  return (code === 'ECONNECTION' || code === 'ESOCKET') && responseCode === undefined
}
