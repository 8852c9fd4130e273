import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { DEFAULT_DELIVERY, type DeliveryOptions, type Logger, silentLogger } from './options.ts'
import { addressKey } from './address.ts'
import { retryDelay } from './backoff.ts'
import { BodyPrefetch } from './body-prefetch.ts'
import { classifyFailure } from './failure.ts'
import { FETCHING, FlowControl, type FlowStatus } from './flow/index.ts'
import type { Outbox } from './outbox.ts'
import { MIN_GROUP, RecordGroups } from './record-groups.ts'
import type { AttemptedEvent } from './signals.ts'
import { MAIL_PRIORITIES } from './states.ts'
import type { ClaimedMail, Outcome } from './store/index.ts'
import { type MailTransport, type RelayStatus, sendInterrupted } from './transports/transport.ts'

export interface WorkerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a worker delivers whatever templates the outbox renders
  readonly outbox: Outbox<any>
  readonly transport: MailTransport
  /** Each unset option takes its value from {@link DEFAULT_DELIVERY}. */
  readonly delivery?: Partial<DeliveryOptions>
  /** Default: silent. */
  readonly logger?: Logger
  /** Names this worker in `locked_by`; unique per process by default. */
  readonly id?: string
  /**
   * Names the relay whose `maxConnections` workers share (`host:port`); workers
   * that name the same relay share one limit. Default `default`.
   */
  readonly relay?: string
}

export interface RunSummary {
  readonly claimed: number
  readonly sent: number
  readonly retrying: number
  readonly dead: number
  readonly expired: number
}

// The high lane: mail someone is waiting for (confirmation, reset, change of address). A wake-up
// or the poll claims it at once even while the queue is full of notices, and it goes to the head
// of the queue. An empty lane costs one index probe; while wake-ups keep coming (notices
// committed in a stream) the lane is looked at again at most once per LANE_RECHECK_MS after a
// look that found it empty.
const LANE_PRIORITY = MAIL_PRIORITIES.high
const LANE_RECHECK_MS = 50

/**
 * Stored messages read per query, at least (more if `concurrency`, the starting number of
 * connections, is larger): a read of a few rows costs little more than a read of one, and with 5
 * a drain at full speed ran 11 % slower (a query per 5 messages). A worker holds two or three
 * chunks of bodies at most (BodyPrefetch): some hundred kilobytes.
 */
const BODY_CHUNK = 25

/** Mail that flow control holds back is put back in groups, at most this often. */
const HOLD_FLUSH_MS = 20
/** Attempts of a message that a throttling relay or a refused connection retries within a second. */
const PUSHBACK_FAST_RETRIES = 3
/** While a domain's quota fetches tokens, the loop looks again after this long at the latest. */
const FETCH_RECHECK_MS = 100

/** No server answered (the stored message was missing). */
const NO_REPLY = Object.freeze({ smtpCode: null, smtpStatus: null })

type Counts = { claimed: number; sent: number; retrying: number; dead: number; expired: number }

/** An outcome waiting to be recorded, with what observers are told once it is. */
type Attempt = Omit<AttemptedEvent, 'recordedAt'>

/**
 * Delivers the outbox: claims due mail under a lease, keeps up to `delivery.concurrency`
 * messages in flight through the transport, and records each outcome. New mail is claimed as
 * soon as a connection is free, so a slow server never makes fresh mail wait for a whole batch;
 * high-priority mail is claimed as soon as it is committed (the lane) and sent next.
 */
export class DeliveryWorker {
  readonly id: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see WorkerOptions.outbox
  readonly #outbox: Outbox<any>
  readonly #transport: MailTransport
  readonly #delivery: DeliveryOptions
  readonly #log: Logger
  /** When outcomes are written: every 10 ms, or sooner in groups sized to the delivery rate. */
  readonly #groups: RecordGroups
  readonly #bodies: BodyPrefetch
  readonly #flow: FlowControl
  /** Taken from the queue by flow control, to go back to the database due at the time given. */
  #held: Map<number, number> | undefined
  #heldTimer: NodeJS.Timeout | undefined
  /** Wakes the loop when the earliest mail put back by flow control comes due. */
  #dueTimer: NodeJS.Timeout | undefined
  #dueAt = Number.POSITIVE_INFINITY
  /**
   * Claimed, not started yet, by priority (claim order within one): the head is sent next. With
   * what is in flight, at most a batch, plus up to `concurrency` claimed by the high lane.
   */
  #queue: ClaimedMail[] = []
  #inFlight = 0
  /**
   * How the attempts in flight are abandoned when the grace period ends: each races a promise
   * whose `reject` waits in a slot of its own, one per connection (the array never grows). Not
   * an AbortSignal: with one signal for every send, Node's EventTarget leaves each removed
   * listener linked to the next, so once one was promoted every later send's objects followed
   * it into the old generation until a full GC; and on Node 20 a fresh signal per send is
   * promoted itself (each AbortSignal gets a hidden class of its own).
   */
  readonly #abandon: (((reason: Error) => void) | undefined)[]
  /** Claimed and not yet recorded: what the lease renewal keeps. */
  readonly #leased = new Set<number>()
  #unrecorded: Attempt[] = []
  #flushing: Promise<void> = Promise.resolve()
  #flushTimer: NodeJS.Timeout | undefined
  #renewTimer: NodeJS.Timeout | undefined
  #lastReclaim = Number.NEGATIVE_INFINITY
  #lastClaimAt = Number.NEGATIVE_INFINITY
  /** False once a claim came back short; a wake-up, the poll or a full claim sets it again. */
  #mayHaveMore = true
  /** High-priority mail may be due: set by a wake-up and the poll, cleared by a short lane claim. */
  #laneDue = true
  /** When a claim last came back short (so no high-priority mail was left due). */
  #laneLookedAt = Number.NEGATIVE_INFINITY
  /** Ticks every poll period, so the poll runs even while every connection is busy. */
  #pollTimer: NodeJS.Timeout | undefined
  /** Counts wake-ups, so one that arrives while a claim runs is not taken as answered by it. */
  #wakes = 0
  #loop: Promise<void> | undefined
  #stopping = false
  #signalled = false
  #wakeLoop: (() => void) | undefined
  #wakeTimer: NodeJS.Timeout | undefined
  #unsubscribe: (() => Promise<void>) | undefined
  #idleWaiters: (() => void)[] = []
  readonly #onWake = () => {
    this.#wakes++
    this.#mayHaveMore = true
    this.#laneDue = true
    this.#signal()
  }

  constructor(options: WorkerOptions) {
    this.#outbox = options.outbox
    this.#transport = options.transport
    // An option given as undefined takes its default too.
    const given = Object.entries(options.delivery ?? {}).filter(([, value]) => value !== undefined)
    this.#delivery = { ...DEFAULT_DELIVERY, ...Object.fromEntries(given) }
    this.#log = options.logger ?? silentLogger
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.#groups = new RecordGroups({ min: Math.max(MIN_GROUP, this.#delivery.concurrency * 2) })
    this.#bodies = new BodyPrefetch(this.#outbox.store, Math.max(BODY_CHUNK, this.#delivery.concurrency))
    this.#abandon = new Array<undefined>(this.#delivery.maxConnections).fill(undefined)
    this.#flow = new FlowControl({
      db: this.#outbox.db.kysely,
      workerId: this.id,
      relay: options.relay ?? 'default',
      delivery: this.#delivery,
      logger: this.#log,
      onReady: () => this.#signal(),
      onShare: (connections) => this.#transport.setLimit?.(connections),
    })
  }

  /** What flow control allows now: connections, rates, paused domains (see docs/outbox.md, "Flow control"). */
  flowStatus(): FlowStatus {
    return this.#flow.status(Date.now())
  }

  /** With a fallback relay: each relay's state and which one is in use (see FailoverTransport); else none. */
  relays(): RelayStatus[] {
    return this.#transport.relays?.() ?? []
  }

  /** Starts delivering until {@link stop}; woken at once by mail committed in this process. */
  start(): void {
    if (this.#loop) return
    this.#stopping = false
    this.#outbox.signals.on('wake', this.#onWake)
    this.#unsubscribe = this.#outbox.store.subscribe(this.#onWake, (err) =>
      this.#log.warn({ err, worker: this.id }, 'lost the wake-up connection; reconnecting (the poll covers the gap)'),
    )
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(250, this.#delivery.leaseMs / 3))
    this.#pollTimer = setInterval(this.#tick, this.#delivery.pollMs)
    this.#loop = this.#run()
  }

  /** Claims one batch, delivers it and records every outcome. For tests and scripts. */
  async runOnce(): Promise<RunSummary> {
    this.#lastReclaim = Number.NEGATIVE_INFINITY
    const counts: Counts = { claimed: 0, sent: 0, retrying: 0, dead: 0, expired: 0 }
    await this.#flow.start()
    const batch = await this.#claim(this.#delivery.batchSize)
    counts.claimed = batch.length
    this.#queue.push(...batch)
    while (this.#queue.length > 0 || this.#inFlight > 0) {
      const wait = this.#startSends(counts)
      await this.#nextEvent(wait)
    }
    await this.#flush()
    await this.#putBack()
    return counts
  }

  /** Resolves the next time the running worker finds nothing to do (all it sent is recorded). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /**
   * Graceful stop: claims nothing more, lets in-flight sends finish for `graceMs`, then abandons
   * them (recorded as failed attempts); releases what it had claimed and not started.
   */
  async stop({ graceMs = this.#delivery.shutdownGraceMs }: { graceMs?: number } = {}): Promise<void> {
    this.#stopping = true
    this.#outbox.signals.off('wake', this.#onWake)
    const unsubscribed = this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#signal()
    const abort = setTimeout(() => {
      if (this.#inFlight > 0) {
        this.#log.warn({ worker: this.id, graceMs, inFlight: this.#inFlight }, 'shutdown grace period over: abandoning in-flight sends')
      }
      for (const abandon of this.#abandon) abandon?.(sendInterrupted())
    }, graceMs)
    try {
      await this.#loop
      await this.#flush()
      await this.#putBack()
    } finally {
      clearTimeout(abort)
      clearInterval(this.#renewTimer)
      clearInterval(this.#pollTimer)
      clearTimeout(this.#dueTimer)
      this.#loop = undefined
      this.#transport.close()
      await this.#flow.stop()
      await unsubscribed
    }
  }

  async #run(): Promise<void> {
    const { batchSize, pollMs } = this.#delivery
    await this.#flow.start()
    while (!this.#stopping) {
      const concurrency = this.#flow.limit
      const held = this.#queue.length + this.#inFlight
      const room = batchSize - held
      // The poll: mail from other processes (or retries now due) is looked for at least this often.
      // While the queue is full only the lane is polled (once per poll period, as a claim would be).
      const now = Date.now()
      if (now - this.#lastClaimAt >= pollMs) this.#mayHaveMore = true
      if (now - this.#laneLookedAt >= pollMs) this.#laneDue = true
      let laneWait: number | undefined
      if (this.#mayHaveMore && this.#queue.length < concurrency && room > 0) {
        this.#lastClaimAt = now
        const wakes = this.#wakes
        const batch = await this.#claim(room)
        // Short: every due message was taken, high-priority ones first.
        this.#mayHaveMore = batch.length === room || wakes !== this.#wakes
        if (batch.length < room) this.#laneLookedAt = Date.now()
        if (!this.#mayHaveMore) this.#laneDue = false
        this.#enqueueClaimed(batch)
      } else if (this.#laneDue && this.#urgentQueued() < concurrency) {
        // The queue is full of notices: look for high-priority mail alone, and put it first.
        // A batch plus this lane's `concurrency` bounds what the worker holds.
        const limit = Math.min(concurrency, batchSize + concurrency - held)
        const wait = this.#laneLookedAt + LANE_RECHECK_MS - now
        if (limit > 0 && wait <= 0) {
          const wakes = this.#wakes
          const batch = await this.#claim(limit, LANE_PRIORITY)
          // When the look ended: under a slow database, looks must not come back to back.
          if (batch.length < limit) this.#laneLookedAt = Date.now()
          this.#laneDue = batch.length === limit || wakes !== this.#wakes
          this.#enqueueClaimed(batch)
        } else if (limit > 0) {
          laneWait = wait
        }
      }
      const flowWait = this.#startSends()
      if (this.#inFlight === 0 && this.#queue.length === 0) {
        await this.#flush()
        await this.#putBack()
        for (const resolve of this.#idleWaiters.splice(0)) resolve()
      }
      // Every connection busy: the next finished send is the next chance to do anything, unless
      // the lane waits for its next look, or flow control for a moment the queue's head may go.
      const waits = [laneWait, flowWait, this.#inFlight < this.#flow.limit ? pollMs : undefined].filter((w) => w !== undefined)
      await this.#nextEvent(waits.length > 0 ? Math.min(...waits) : undefined)
    }
    while (this.#inFlight > 0) await this.#nextEvent()
    await this.#flush()
    await this.#release(this.#queue.splice(0).map((mail) => mail.id))
  }

  /**
   * Gives back, unattempted, the mail flow control held back (see {@link startSends}), each due
   * again at its own time, and wakes the loop when the earliest comes due.
   */
  async #putBack(): Promise<void> {
    clearTimeout(this.#heldTimer)
    this.#heldTimer = undefined
    const held = this.#held
    this.#held = undefined
    if (!held) return
    await this.#release([...held.keys()], held)
    if (this.#stopping) return
    const earliest = Math.min(...held.values())
    if (earliest >= this.#dueAt) return
    clearTimeout(this.#dueTimer)
    this.#dueAt = earliest
    this.#dueTimer = setTimeout(this.#onDue, Math.max(0, earliest - Date.now()))
    this.#dueTimer.unref()
  }

  readonly #onDue = (): void => {
    this.#dueAt = Number.POSITIVE_INFINITY
    this.#mayHaveMore = true
    this.#signal()
  }

  /**
   * Adds claimed mail (in claim order) to the queue behind everything of its priority or higher,
   * so a claimed confirmation is the next to start. Notices land at the end without a scan.
   */
  #enqueueClaimed(batch: readonly ClaimedMail[]): void {
    const queue = this.#queue
    for (const mail of batch) {
      let at = queue.length
      while (at > 0 && (queue[at - 1] as ClaimedMail).priority > mail.priority) at--
      if (at === queue.length) queue.push(mail)
      else queue.splice(at, 0, mail)
    }
  }

  /** How many high-priority messages wait at the head of the queue. */
  #urgentQueued(): number {
    let n = 0
    while (n < this.#queue.length && (this.#queue[n] as ClaimedMail).priority <= LANE_PRIORITY) n++
    return n
  }

  /**
   * Starts as many queued messages as flow control admits, head first. Mail whose domain is
   * paused or over its quota leaves the queue, to be put back in the database until its time:
   * mail to other domains never waits behind it. Returns how long until the relay's rate lets
   * the next one go, when that is what holds the queue (undefined otherwise).
   */
  #startSends(counts?: Counts): number | undefined {
    const flow = this.#flow
    const now = Date.now()
    let index = 0
    let fetching = false
    while (!this.#stopping && this.#inFlight < flow.limit && index < this.#queue.length) {
      const relayWait = flow.relayWait(now)
      if (relayWait > 0) return relayWait
      const mail = this.#queue[index] as ClaimedMail
      const holdUntil = flow.recipientHoldUntil(mail, now)
      if (holdUntil === FETCHING) {
        // Its domain's tokens are on their way (onReady signals): the next message may go.
        fetching = true
        index++
        continue
      }
      if (holdUntil > 0) {
        this.#queue.splice(index, 1)
        this.#hold(mail.id, holdUntil)
        continue
      }
      if (index === 0) this.#queue.shift()
      else this.#queue.splice(index, 1)
      flow.take(mail, this.#inFlight + 1)
      const slot = this.#abandon.indexOf(undefined)
      const abandoned = new Promise<never>((_, reject) => (this.#abandon[slot] = reject))
      this.#inFlight++
      void this.#attempt(mail, this.#bodies.take(mail.id, this.#queue), abandoned).then((attempt) => {
        this.#abandon[slot] = undefined
        // Every slot was busy and mail was waiting: what adaptive concurrency grows on.
        const waiting = this.#inFlight >= flow.limit && this.#queue.length > 0
        this.#inFlight--
        if (attempt.outcome.kind === 'sent') flow.accepted(mail.recipient, attempt.sendMs ?? 0, waiting, Date.now())
        const kind = attempt.outcome.kind
        if (counts) counts[kind === 'retry' ? 'retrying' : kind]++
        this.#unrecorded.push(attempt)
        this.#groups.count(performance.now())
        if (this.#unrecorded.length >= this.#groups.size) void this.#flush()
        else this.#flushTimer ??= setTimeout(() => void this.#flush(), this.#groups.afterMs)
        this.#signal()
      })
    }
    return fetching ? FETCH_RECHECK_MS : undefined
  }

  /** Takes `id` out of this round: it goes back to the database, due at `until`. */
  #hold(id: number, until: number): void {
    ;(this.#held ??= new Map()).set(id, until)
    this.#heldTimer ??= setTimeout(() => void this.#putBack(), HOLD_FLUSH_MS)
  }

  /** The poll's tick: lets the loop look at the clock even while no send finishes. */
  readonly #tick = (): void => this.#signal()

  /** Wakes {@link nextEvent}: a send finished, mail was committed here, or stop was called. */
  #signal(): void {
    if (this.#wakeLoop) this.#wakeUp()
    else this.#signalled = true
  }

  /**
   * Waits for the next signal, or at most `timeoutMs`. It runs once per message, so it makes no
   * closure of its own: under tsx every named closure is renamed with Object.defineProperty,
   * which costs a function a dictionary-mode hidden class (sometimes a new one, in the old
   * generation).
   */
  #nextEvent(timeoutMs?: number): Promise<void> {
    if (this.#signalled) {
      this.#signalled = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      this.#wakeLoop = resolve
      if (timeoutMs !== undefined) this.#wakeTimer = setTimeout(this.#wakeUp, timeoutMs)
    })
  }

  readonly #wakeUp = (): void => {
    clearTimeout(this.#wakeTimer)
    this.#wakeTimer = undefined
    const wake = this.#wakeLoop
    this.#wakeLoop = undefined
    wake?.()
  }

  /** Never rejects: a failed claim is logged and returns nothing, and the poll tries again. */
  async #claim(limit: number, maxPriority?: number): Promise<ClaimedMail[]> {
    if (this.#stopping) return []
    const store = this.#outbox.store
    const now = this.#outbox.clock.now()
    try {
      if (now - this.#lastReclaim >= this.#delivery.leaseMs / 2) {
        this.#lastReclaim = now
        const reclaimed = await store.reclaimExpired(now)
        if (reclaimed > 0) this.#log.warn({ worker: this.id, reclaimed }, 'took over messages whose lease expired')
      }
      const batch = await store.claim(this.id, now, now + this.#delivery.leaseMs, limit, maxPriority)
      for (const mail of batch) this.#leased.add(mail.id)
      return batch
    } catch (err) {
      this.#log.error({ err, worker: this.id }, 'could not claim mail; will try again')
      return []
    }
  }

  /** One attempt; never rejects. It stops waiting for its body or the server once `abandoned` rejects. */
  async #attempt(mail: ClaimedMail, body: Promise<string | undefined>, abandoned: Promise<never>): Promise<Attempt> {
    let raw: string | undefined
    try {
      raw = await Promise.race([body, abandoned])
    } catch (err) {
      return attempt(mail, null, this.#failed(mail, err))
    }
    // Held back by flow control or claimed late: a message past its deadline is not sent.
    if (mail.expiresAt !== null && this.#outbox.clock.now() >= mail.expiresAt) {
      return attempt(mail, null, { id: mail.id, kind: 'expired', template: mail.template })
    }
    if (raw === undefined) {
      const error = 'the stored message is missing'
      return attempt(mail, null, { id: mail.id, kind: 'dead', template: mail.template, failure: 'permanent', error, reply: NO_REPLY, suppress: null })
    }
    const started = performance.now()
    try {
      const { response } = await Promise.race([
        this.#transport.send({ raw, envelope: { from: mail.envelopeFrom, to: [mail.recipient] } }),
        abandoned,
      ])
      return attempt(mail, performance.now() - started, { id: mail.id, kind: 'sent', response })
    } catch (err) {
      return attempt(mail, performance.now() - started, this.#failed(mail, err))
    }
  }

  /** What a failed attempt leads to: retry later, or dead. */
  #failed(mail: ClaimedMail, err: unknown): Outcome {
    const failure = classifyFailure(err)
    const now = this.#outbox.clock.now()
    // The relay or the domain pushing back: flow control adapts, and says when to try again.
    const { pushback, retryAt: soon } = this.#flow.failed(mail.recipient, err, this.#inFlight, Date.now())
    // A throttled or turned-away message is retried soon a few times; one that keeps meeting it
    // (a daily quota spent, say) falls back to the back-off rather than knocking every second.
    const retryAt = pushback === 'domain' || mail.attempts <= PUSHBACK_FAST_RETRIES ? soon : undefined
    const log = { worker: this.id, outboxId: mail.id, attempt: mail.attempts, error: failure.message }
    const { id, template } = mail
    const reply = { smtpCode: failure.smtpCode, smtpStatus: failure.smtpStatus }
    if (failure.kind === 'permanent') {
      this.#log.warn(log, 'permanent failure: message is dead')
      const suppress = failure.suppress ? addressKey(mail.recipient) : null
      return { id, template, kind: 'dead', failure: 'permanent', error: failure.message, reply, suppress }
    }
    if (now - mail.firstAttemptAt >= this.#delivery.giveUpMs) {
      this.#log.warn(log, 'still failing after the give-up age: message is dead')
      const error = `gave up after ${mail.attempts} attempts: ${failure.message}`
      return { id, template, kind: 'dead', failure: 'transient', error, reply, suppress: null }
    }
    const runAt = retryAt === undefined ? now + retryDelay(this.#delivery, mail.attempts) : now + Math.max(0, retryAt - Date.now())
    if (mail.expiresAt !== null && runAt >= mail.expiresAt) {
      this.#log.info(log, 'transient failure, and the next attempt would be past the deadline: message expired')
      return { id, template, kind: 'expired' }
    }
    this.#log.info({ ...log, retryAt: new Date(runAt).toISOString() }, 'transient failure: will retry')
    return { id, template, kind: 'retry', error: failure.message, reply, runAt }
  }

  /** Writes the outcomes gathered so far; one write at a time, in order. */
  #flush(): Promise<void> {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    this.#flushing = this.#flushing.then(async () => {
      const attempts = this.#unrecorded.splice(0)
      if (attempts.length === 0) return
      try {
        const recordedAt = this.#outbox.clock.now()
        const recorded = await this.#outbox.store.record(this.id, attempts.map((a) => a.outcome), recordedAt)
        const signals = this.#outbox.signals
        for (const attempt of attempts) {
          this.#leased.delete(attempt.outcome.id)
          // Observers hear of what the database holds, not of outcomes for rows we lost.
          if (recorded.has(attempt.outcome.id)) signals.emit('attempted', recordedAttempt(attempt, recordedAt))
        }
        signals.emit('recorded')
      } catch (err) {
        // Keep them (the lease is still renewed) and try again shortly.
        this.#log.error({ err, worker: this.id, count: attempts.length }, 'could not record outcomes; retrying')
        this.#unrecorded.unshift(...attempts)
        this.#flushTimer ??= setTimeout(() => void this.#flush(), 1_000)
      }
    })
    return this.#flushing
  }

  async #release(ids: readonly number[], runAt?: ReadonlyMap<number, number>): Promise<void> {
    if (ids.length === 0) return
    this.#bodies.forget(ids)
    try {
      const now = this.#outbox.clock.now()
      // Flow control's times are wall-clock times; the outbox's clock may be a test's.
      const offset = now - Date.now()
      const due = runAt && new Map([...runAt].map(([id, at]) => [id, at + offset]))
      await this.#outbox.store.release(this.id, ids, now, due)
      for (const id of ids) this.#leased.delete(id)
    } catch (err) {
      this.#log.error({ err, worker: this.id, count: ids.length }, 'could not release claims; their lease will expire')
    }
  }

  async #renew(): Promise<void> {
    if (this.#leased.size === 0) return
    const now = this.#outbox.clock.now()
    const leaseUntil = now + this.#delivery.leaseMs
    try {
      await this.#outbox.store.renew(this.id, leaseUntil, now)
      this.#outbox.signals.emit('renewed', { worker: this.id, leaseUntil })
    } catch (err) {
      this.#log.error({ err, worker: this.id }, 'could not renew the lease')
    }
  }
}

// The two builders below spell every property out instead of spreading another object: on
// Node 20 (V8 11.3) `{ ...a, b }` gives every object it makes a hidden class of its own,
// allocated in the old generation, which a long drain filled at some 500 bytes per message.

function attempt(mail: ClaimedMail, sendMs: number | null, outcome: Outcome): Attempt {
  return { template: mail.template, createdAt: mail.createdAt, sendMs, outcome }
}

function recordedAttempt(attempt: Attempt, recordedAt: number): AttemptedEvent {
  return { template: attempt.template, createdAt: attempt.createdAt, sendMs: attempt.sendMs, outcome: attempt.outcome, recordedAt }
}
