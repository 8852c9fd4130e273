import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { DeliveryConfig } from '../config/index.ts'
import { addressKey } from '../lib/email-address.ts'
import { retryDelay } from './backoff.ts'
import { BodyPrefetch } from './body-prefetch.ts'
import { classifyFailure } from './failure.ts'
import type { Outbox } from './outbox.ts'
import type { ClaimedMail, Outcome } from './store/index.ts'
import type { MailTransport } from './transports/transport.ts'

export interface WorkerOptions {
  readonly outbox: Outbox
  readonly transport: MailTransport
  readonly delivery: DeliveryConfig
  readonly logger: Logger
  /** Names this worker in `locked_by`; unique per process by default. */
  readonly id?: string
}

export interface RunSummary {
  readonly claimed: number
  readonly sent: number
  readonly retrying: number
  readonly dead: number
}

// Outcomes are written in small groups: one commit per message would cap throughput, and a
// large group would widen the window of mail sent twice if the process dies before recording.
const FLUSH_AFTER_MS = 10

/**
 * Delivers the outbox: claims a batch under a lease, sends it through the transport with at
 * most `delivery.concurrency` messages in flight, and records each outcome.
 */
export class DeliveryWorker {
  readonly id: string
  readonly #outbox: Outbox
  readonly #transport: MailTransport
  readonly #delivery: DeliveryConfig
  readonly #log: Logger
  readonly #flushSize: number
  /** Claimed and not yet recorded: what the lease renewal keeps. */
  readonly #held = new Set<number>()
  #unrecorded: Outcome[] = []
  #flushing: Promise<void> = Promise.resolve()
  #flushTimer: NodeJS.Timeout | undefined
  #renewTimer: NodeJS.Timeout | undefined
  #lastReclaim = Number.NEGATIVE_INFINITY
  #loop: Promise<void> | undefined
  #stopping = false
  #abort = new AbortController()
  #wakeIdle: (() => void) | undefined
  #idleWaiters: (() => void)[] = []
  readonly #onWake = () => this.#wakeIdle?.()

  constructor(options: WorkerOptions) {
    this.#outbox = options.outbox
    this.#transport = options.transport
    this.#delivery = options.delivery
    this.#log = options.logger
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#flushSize = Math.max(10, this.#delivery.concurrency * 2)
  }

  /** Starts delivering until {@link stop}; woken at once by mail committed in this process. */
  start(): void {
    if (this.#loop) return
    this.#stopping = false
    this.#abort = new AbortController()
    this.#outbox.signals.on('wake', this.#onWake)
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(250, this.#delivery.leaseMs / 3))
    this.#loop = this.#run()
  }

  /** Claims one batch, delivers it and records every outcome. For tests and scripts. */
  async runOnce(): Promise<RunSummary> {
    this.#lastReclaim = Number.NEGATIVE_INFINITY
    const batch = await this.#claim()
    return this.#deliver(batch, () => {})
  }

  /** Resolves the next time the running worker finds nothing due. */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /**
   * Graceful stop: claims nothing more, lets in-flight sends finish for `graceMs`, then closes
   * the connections (unfinished sends are recorded as failed attempts); releases what it had
   * claimed and not started.
   */
  async stop({ graceMs = this.#delivery.shutdownGraceMs }: { graceMs?: number } = {}): Promise<void> {
    this.#stopping = true
    this.#outbox.signals.off('wake', this.#onWake)
    this.#wakeIdle?.()
    const abort = setTimeout(() => {
      this.#log.warn({ worker: this.id, graceMs }, 'shutdown grace period over: abandoning in-flight sends')
      this.#abort.abort()
      this.#transport.close()
    }, graceMs)
    try {
      await this.#loop
      await this.#flush()
    } finally {
      clearTimeout(abort)
      clearInterval(this.#renewTimer)
      this.#loop = undefined
      this.#transport.close()
    }
  }

  async #run(): Promise<void> {
    let next: Promise<ClaimedMail[]> | undefined
    while (!this.#stopping) {
      const batch = await (next ?? this.#claim())
      next = undefined
      if (batch.length === 0) {
        for (const resolve of this.#idleWaiters.splice(0)) resolve()
        await this.#idle()
        continue
      }
      // Claim the next batch while the last messages of this one are sent, so the pool never waits.
      await this.#deliver(batch, () => {
        next ??= this.#claim()
      })
    }
    if (next) await this.#release((await next).map((mail) => mail.id))
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#delivery.pollMs)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wakeIdle = () => {
        this.#wakeIdle = undefined
        done()
      }
    })
  }

  /** Never rejects: a failed claim is logged and returns nothing, and the poll tries again. */
  async #claim(): Promise<ClaimedMail[]> {
    if (this.#stopping) return []
    const store = this.#outbox.store
    const now = this.#outbox.clock.now()
    try {
      if (now - this.#lastReclaim >= this.#delivery.leaseMs / 2) {
        this.#lastReclaim = now
        const reclaimed = await store.reclaimExpired(now)
        if (reclaimed > 0) this.#log.warn({ worker: this.id, reclaimed }, 'took over messages whose lease expired')
      }
      const batch = await store.claim(this.id, now, now + this.#delivery.leaseMs, this.#delivery.batchSize)
      for (const mail of batch) this.#held.add(mail.id)
      return batch
    } catch (err) {
      this.#log.error({ err, worker: this.id }, 'could not claim mail; will try again')
      return []
    }
  }

  async #deliver(batch: readonly ClaimedMail[], almostDone: () => void): Promise<RunSummary> {
    const counts = { claimed: batch.length, sent: 0, retrying: 0, dead: 0 }
    const bodies = new BodyPrefetch(this.#outbox.store, batch.map((mail) => mail.id), this.#delivery.concurrency)
    let next = 0
    const lane = async () => {
      while (!this.#stopping && next < batch.length) {
        const mail = batch[next++] as ClaimedMail
        if (batch.length - next <= this.#delivery.concurrency) almostDone()
        const outcome = await this.#attempt(mail, bodies.take(mail.id))
        counts[outcome.kind === 'retry' ? 'retrying' : outcome.kind]++
        this.#unrecorded.push(outcome)
        if (this.#unrecorded.length >= this.#flushSize) void this.#flush()
        else this.#flushTimer ??= setTimeout(() => void this.#flush(), FLUSH_AFTER_MS)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#delivery.concurrency, batch.length) }, lane))
    await this.#flush()
    await this.#release(batch.slice(next).map((mail) => mail.id))
    return counts
  }

  /** One attempt; never rejects. */
  async #attempt(mail: ClaimedMail, body: Promise<string | undefined>): Promise<Outcome> {
    try {
      const raw = await body
      if (raw === undefined) {
        return { id: mail.id, kind: 'dead', error: 'the stored message is missing', suppress: null }
      }
      const { response } = await this.#transport.send(
        { raw, envelope: { from: mail.envelopeFrom, to: [mail.recipient] } },
        this.#abort.signal,
      )
      return { id: mail.id, kind: 'sent', response }
    } catch (err) {
      const failure = classifyFailure(err)
      const now = this.#outbox.clock.now()
      const log = { worker: this.id, outboxId: mail.id, attempt: mail.attempts, error: failure.message }
      if (failure.kind === 'permanent') {
        this.#log.warn(log, 'permanent failure: message is dead')
        return { id: mail.id, kind: 'dead', error: failure.message, suppress: failure.suppress ? addressKey(mail.recipient) : null }
      }
      if (now - mail.firstAttemptAt >= this.#delivery.giveUpMs) {
        this.#log.warn(log, 'still failing after the give-up age: message is dead')
        return { id: mail.id, kind: 'dead', error: `gave up after ${mail.attempts} attempts: ${failure.message}`, suppress: null }
      }
      const runAt = now + retryDelay(this.#delivery, mail.attempts)
      this.#log.info({ ...log, retryAt: new Date(runAt).toISOString() }, 'transient failure: will retry')
      return { id: mail.id, kind: 'retry', error: failure.message, runAt }
    }
  }

  /** Writes the outcomes gathered so far; one write at a time, in order. */
  #flush(): Promise<void> {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    this.#flushing = this.#flushing.then(async () => {
      const outcomes = this.#unrecorded.splice(0)
      if (outcomes.length === 0) return
      try {
        await this.#outbox.store.record(this.id, outcomes, this.#outbox.clock.now())
        for (const outcome of outcomes) this.#held.delete(outcome.id)
        this.#outbox.signals.emit('recorded')
      } catch (err) {
        // Keep them (the lease is still renewed) and try again shortly.
        this.#log.error({ err, worker: this.id, count: outcomes.length }, 'could not record outcomes; retrying')
        this.#unrecorded.unshift(...outcomes)
        this.#flushTimer ??= setTimeout(() => void this.#flush(), 1_000)
      }
    })
    return this.#flushing
  }

  async #release(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return
    try {
      await this.#outbox.store.release(this.id, ids, this.#outbox.clock.now())
      for (const id of ids) this.#held.delete(id)
    } catch (err) {
      this.#log.error({ err, worker: this.id, count: ids.length }, 'could not release claims; their lease will expire')
    }
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return
    const now = this.#outbox.clock.now()
    try {
      await this.#outbox.store.renew(this.id, now + this.#delivery.leaseMs, now)
    } catch (err) {
      this.#log.error({ err, worker: this.id }, 'could not renew the lease')
    }
  }
}
