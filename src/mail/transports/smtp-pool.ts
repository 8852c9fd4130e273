import SMTPConnection from 'nodemailer/lib/smtp-connection'

export interface SmtpPoolOptions {
  /** How to reach and greet the server (host, port, TLS, timeouts). */
  readonly connection: SMTPConnection.Options
  readonly auth: SMTPConnection.AuthenticationType | undefined
  /** The most connections open at once. */
  readonly maxConnections: number
  /** Messages a connection sends before it says QUIT and a fresh one takes its place. */
  readonly maxMessages: number
}

interface Pooled {
  readonly connection: SMTPConnection
  /** Messages accepted over this connection. */
  sent: number
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
 * written to the connection as it is.
 */
export class SmtpPool {
  readonly #options: SmtpPoolOptions
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
  #closed = false

  constructor(options: SmtpPoolOptions) {
    this.#options = { ...options, maxConnections: Math.max(1, options.maxConnections), maxMessages: Math.max(1, options.maxMessages) }
  }

  /** Sends `raw` (CRLF line ends) to the envelope's recipients; resolves with the server's reply. */
  async send(envelope: { from: string; to: string[] }, raw: string): Promise<SMTPConnection.SentMessageInfo> {
    const pooled = await this.#acquire()
    try {
      return await this.#sendOn(pooled, envelope, raw)
    } catch (error) {
      // A reused connection can be closed by the server (its idle timeout) just as it is handed
      // out. The message goes once more over another connection now, rather than after the
      // worker's back-off: a retry later would carry the same small risk of a duplicate.
      if (pooled.sent === 0 || !connectionDropped(error)) throw error
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
    this.#release(pooled)
    return info
  }

  /** Closes every connection; sends still running and sends waiting for a connection reject. */
  close(): void {
    this.#closed = true
    for (const waiter of this.#waiting.splice(0)) waiter.reject(poolClosed())
    for (const pooled of [...this.#all]) {
      this.#lost(pooled, poolClosed())
      pooled.connection.close() // also one still saying QUIT
    }
  }

  #acquire(): Promise<Pooled> {
    if (this.#closed) return Promise.reject(poolClosed())
    const idle = this.#idle.pop()
    if (idle) return Promise.resolve(idle)
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#openForWaiters()
    })
  }

  /** Opens connections while sends wait and the limit allows; each serves the first waiter. */
  #openForWaiters(): void {
    while (!this.#closed && this.#waiting.length > this.#opening && this.#all.size < this.#options.maxConnections) {
      this.#open()
    }
  }

  #open(): void {
    const connection = new SMTPConnection(this.#options.connection)
    const pooled: Pooled = { connection, sent: 0, gone: false, failOpening: undefined, failSend: undefined }
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
      this.#all.delete(pooled)
      this.#openForWaiters()
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
    if (this.#closed || pooled.sent >= this.#options.maxMessages) {
      this.#drop(pooled, 'quit')
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter) waiter.resolve(pooled)
    else this.#idle.push(pooled)
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
    const index = this.#idle.indexOf(pooled)
    if (index >= 0) this.#idle.splice(index, 1)
    if (how === 'quit') pooled.connection.quit()
    else pooled.connection.close()
  }
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
