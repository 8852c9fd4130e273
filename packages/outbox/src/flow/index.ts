import type { DeliveryOptions, Logger } from '../options.ts'
import { claimSlots, releaseSlots } from '../store/flow.ts'
import type { OutboxDb } from '../store/types.ts'
import { AdaptiveConcurrency } from './concurrency.ts'
import { DomainGates } from './domains.ts'
import { LearnedRate } from './learned-rate.ts'
import { type Pushback, pushbackOf } from './pushback.ts'
import { SharedQuota } from './shared-quota.ts'

export { FETCHING } from './domains.ts'
export { type Pushback, pushbackOf } from './pushback.ts'

/** A worker's share of the relay's connections is renewed this often, and lapses after SLOT_TTL_MS. */
const SLOT_RENEW_MS = 5_000
const SLOT_TTL_MS = 15_000
/** A worker that wants more connections than its share asks again at most this often. */
const SLOT_ASK_EVERY_MS = 200
/** A worker granted less than it asked for asks again after this long. */
const SLOT_RETRY_MS = 1_000

/** After a throttled attempt or a refused connection, the message is tried again this soon. */
export const PUSHBACK_RETRY_MS = 1_000

export interface FlowOptions {
  readonly db: OutboxDb
  readonly workerId: string
  /** Names the relay whose connections are shared out (`host:port` of the primary). */
  readonly relay: string
  readonly delivery: DeliveryOptions
  readonly logger: Logger
  /** Called when something this control waited on arrived (tokens, a share): look again. */
  readonly onReady: () => void
  /** Told this worker's share of the relay's connections each time it changes. */
  readonly onShare?: (connections: number) => void
}

export interface FlowStatus {
  /** The relay whose connections are shared out (`host:port`). */
  readonly relay: string
  readonly connections: number
  readonly connectionShare: number
  /** Messages per second: the configured quota, the learned one (`null`: none). */
  readonly rate: number | null
  readonly learnedRate: number | null
  readonly pausedDomains: { domain: string; until: number }[]
}

/**
 * What a worker may send, and when (docs/outbox.md, "Flow control"): how many messages in flight
 * (adaptive, within this worker's share of `maxConnections`), how fast to the relay
 * (`rate`, and what its throttling answers reveal), and how fast and whether to each
 * recipient domain (`domainRates`, and pauses while a domain defers us).
 */
export class FlowControl {
  readonly #options: FlowOptions
  readonly #concurrency: AdaptiveConcurrency
  readonly #quota: SharedQuota | undefined
  readonly #learned = new LearnedRate()
  readonly #domains: DomainGates
  /** How many connections the database granted this worker. */
  #share = 0
  /** Whether onShare heard of a share yet. */
  #told = false
  #asking: Promise<void> | undefined
  #askedAt = Number.NEGATIVE_INFINITY
  #peak = 0
  #renewTimer: NodeJS.Timeout | undefined
  #retryTimer: NodeJS.Timeout | undefined

  constructor(options: FlowOptions) {
    this.#options = options
    const { db, delivery, onReady, logger } = options
    const onError = (err: unknown) => logger.warn({ err }, 'could not reach the shared send quota; waiting a second')
    this.#concurrency = new AdaptiveConcurrency({ initial: delivery.concurrency, max: delivery.maxConnections })
    this.#quota = delivery.rate ? new SharedQuota({ db, key: 'relay', perSecond: delivery.rate, onReady, onError }) : undefined
    const domainQuotas = new Map<string, SharedQuota>()
    for (const [domain, perSecond] of delivery.domainRates) {
      domainQuotas.set(domain, new SharedQuota({ db, key: `domain:${domain}`, perSecond, onReady, onError }))
    }
    this.#domains = new DomainGates((domain) => domainQuotas.get(domain), domainQuotas.size > 0)
  }

  /** Takes this worker's first share of the connections, and renews it until {@link stop}. */
  async start(): Promise<void> {
    if (!this.#renewTimer) {
      this.#renewTimer = setInterval(() => {
        this.#concurrency.used(this.#peak)
        this.#peak = 0
        void this.#ask(this.#concurrency.limit)
      }, SLOT_RENEW_MS)
      this.#renewTimer.unref()
    }
    await this.#ask(this.#concurrency.limit)
  }

  /** Gives the share back. */
  async stop(): Promise<void> {
    clearInterval(this.#renewTimer)
    this.#renewTimer = undefined
    await this.#asking
    clearTimeout(this.#retryTimer)
    this.#share = 0
    try {
      await releaseSlots(this.#options.db, this.#options.relay, this.#options.workerId)
    } catch (err) {
      this.#options.logger.warn({ err }, 'could not give back the connection share; it lapses by itself')
    }
  }

  /** The most messages in flight now. */
  get limit(): number {
    return Math.min(this.#concurrency.limit, this.#share)
  }

  /** 0 if the relay may take a message now, else how many ms until it may. Takes nothing. */
  relayWait(now: number): number {
    const learned = this.#learned.wait(now)
    if (learned > 0) return learned
    return this.#quota ? this.#quota.wait(now) : 0
  }

  /**
   * 0 if mail to `recipient` may go now (after {@link relayWait} said 0); FETCHING if its
   * domain's quota is fetching tokens (keep it queued a moment); else when to try it again (its
   * domain is paused, or over its quota): the worker puts it back until then.
   */
  recipientHoldUntil(mail: { id: number; recipient: string }, now: number): number {
    if (!this.#domains.active) return 0
    return this.#domains.holdUntil(domainOf(mail.recipient), mail.id, now)
  }

  /** A message goes now, `inFlight` with it. */
  take(mail: { id: number; recipient: string }, inFlight: number): void {
    this.#learned.take()
    this.#quota?.take()
    if (this.#domains.active) this.#domains.take(domainOf(mail.recipient), mail.id)
    if (inFlight > this.#peak) this.#peak = inFlight
  }

  /** The relay accepted a message after `latencyMs`; `waiting`: mail was ready and every slot busy. */
  accepted(recipient: string, latencyMs: number, waiting: boolean, now: number): void {
    this.#learned.accepted(now)
    if (this.#domains.active) this.#domains.accepted(domainOf(recipient))
    this.#concurrency.accepted(latencyMs, waiting, now)
    if (waiting && this.#concurrency.limit > this.#share && now - this.#askedAt >= SLOT_ASK_EVERY_MS) {
      void this.#ask(this.#concurrency.limit)
    }
  }

  /**
   * An attempt failed with `error` while `inFlight` were in flight: the flow adapts to what the
   * relay asked. Returns when the message should be tried again when that is sooner (or more
   * fitting) than the usual back-off: a throttled or turned-away attempt, a deferring domain.
   */
  failed(recipient: string, error: unknown, inFlight: number, now: number): { pushback: Pushback; retryAt: number | undefined } {
    const domain = domainOf(recipient)
    const pushback = pushbackOf(error)
    switch (pushback) {
      case 'connections':
        this.#domains.settled(domain)
        this.#concurrency.pushedBack(inFlight, now)
        return { pushback, retryAt: now + PUSHBACK_RETRY_MS }
      case 'rate':
        this.#domains.settled(domain)
        this.#learned.throttled(now)
        return { pushback, retryAt: now + PUSHBACK_RETRY_MS }
      case 'domain':
        return { pushback, retryAt: this.#domains.deferred(domain, now) }
      default:
        this.#domains.settled(domain)
        return { pushback, retryAt: undefined }
    }
  }

  status(now: number): FlowStatus {
    const learned = this.#learned.perSecond
    return {
      relay: this.#options.relay,
      connections: this.limit,
      connectionShare: this.#share,
      rate: this.#quota?.perSecond ?? null,
      learnedRate: Number.isFinite(learned) ? learned : null,
      pausedDomains: this.#domains.paused(now),
    }
  }

  /** Asks the database for a share of `want` connections (one request at a time). */
  #ask(want: number): Promise<void> {
    this.#askedAt = Date.now()
    this.#asking ??= (async () => {
      const { db, relay, workerId, delivery, logger, onReady } = this.#options
      try {
        const granted = await claimSlots(db, { relay, workerId, want, max: delivery.maxConnections, now: Date.now(), ttlMs: SLOT_TTL_MS })
        if (granted !== this.#share || !this.#told) {
          logger.debug({ relay, granted, want }, 'connection share changed')
          this.#told = true
          this.#options.onShare?.(granted)
        }
        this.#share = granted
        // Short of what it wants: ask again soon, as others give back down to their even share.
        clearTimeout(this.#retryTimer)
        if (granted < want && this.#renewTimer) {
          this.#retryTimer = setTimeout(() => void this.#ask(this.#concurrency.limit), SLOT_RETRY_MS)
          this.#retryTimer.unref()
        }
      } catch (err) {
        // Keep the share held (it lapses in SLOT_TTL_MS if this goes on); a worker without one yet
        // sends on one connection rather than none.
        if (this.#share === 0) {
          this.#share = 1
          this.#options.onShare?.(1)
        }
        logger.warn({ err }, 'could not renew the connection share')
      } finally {
        this.#asking = undefined
        onReady()
      }
    })()
    return this.#asking
  }
}

/** The recipient's domain, as the outbox stores it (ASCII, any case): lower case. */
export function domainOf(recipient: string): string {
  return recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase()
}
