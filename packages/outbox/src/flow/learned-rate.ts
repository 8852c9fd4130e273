/** After a relay says it is throttling, the send rate drops to this share of what it accepted in the last second. */
export const CUT_FACTOR = 0.9

/** Growth after a cut, per second, as a share of the rate; doubled every QUIET_DOUBLING_MS without throttling. */
const FIRST_GROWTH = 0.02
const MAX_GROWTH = 0.5
const QUIET_DOUBLING_MS = 5_000

/** Throttling answers within this long of a cut are the same event (they were in flight). */
const CUT_HOLD_MS = 1_000

const BINS = 10
const BIN_MS = 100

/**
 * The relay's send quota as its answers reveal it, for relays that throttle (SES's
 * `454 Throttling failure`) without `rate` set, or with one set too high. No limit
 * until the first throttling answer; then the rate is cut to CUT_FACTOR × the messages the relay
 * accepted in the last second, and grows back slowly (2 %/s), faster the longer the relay stays
 * quiet, so that the rate rests just under the quota: a few attempts in a hundred meet a 454.
 * A token bucket holding 100 ms worth spaces the sends.
 */
export class LearnedRate {
  #perSecond = Number.POSITIVE_INFINITY
  #tokens = 0
  #filledAt = 0
  #cutAt = Number.NEGATIVE_INFINITY
  #grownAt = 0
  /** Whether the rate held a send back lately: it only grows while it is the limit. */
  #limitedAt = Number.NEGATIVE_INFINITY
  /** Accepted messages per 100 ms over the last second (a ring). */
  readonly #bins = new Array<number>(BINS).fill(0)
  #bin = 0

  /** Messages per second; Infinity while the relay has not throttled. */
  get perSecond(): number {
    return this.#perSecond
  }

  /** 0 if a send may go now, else how many ms until one may. Takes nothing. */
  wait(now: number): number {
    if (this.#perSecond === Number.POSITIVE_INFINITY) return 0
    this.#refill(now)
    if (this.#tokens >= 1) return 0
    this.#limitedAt = now
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond))
  }

  /** A send goes (after {@link wait} said 0). */
  take(): void {
    if (this.#perSecond !== Number.POSITIVE_INFINITY) this.#tokens -= 1
  }

  accepted(now: number): void {
    this.#advance(now)
    const i = this.#bin % BINS
    this.#bins[i] = (this.#bins[i] ?? 0) + 1
    if (this.#perSecond === Number.POSITIVE_INFINITY) return
    const elapsed = now - this.#grownAt
    this.#grownAt = now
    if (now - this.#limitedAt > 1_000) return
    const growth = Math.min(MAX_GROWTH, FIRST_GROWTH * 2 ** Math.floor((now - this.#cutAt) / QUIET_DOUBLING_MS))
    this.#perSecond *= 1 + (growth * Math.min(elapsed, 1_000)) / 1_000
  }

  /** The relay answered a send with a throttling failure. */
  throttled(now: number): void {
    if (now - this.#cutAt < CUT_HOLD_MS) return
    this.#advance(now)
    const lastSecond = this.#bins.reduce((a, b) => a + b, 0)
    this.#perSecond = Math.max(1, Math.min(this.#perSecond, lastSecond) * CUT_FACTOR)
    this.#cutAt = now
    this.#grownAt = now
    this.#tokens = 0
    this.#filledAt = now
  }

  #refill(now: number): void {
    const burst = Math.max(1, this.#perSecond / 10)
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#filledAt) * this.#perSecond) / 1000)
    this.#filledAt = now
  }

  /** Moves the ring to the 100 ms bin of `now`, emptying the bins passed. */
  #advance(now: number): void {
    const bin = Math.floor(now / BIN_MS)
    if (bin - this.#bin >= BINS) this.#bins.fill(0)
    else for (let b = this.#bin + 1; b <= bin; b++) this.#bins[b % BINS] = 0
    this.#bin = Math.max(this.#bin, bin)
  }
}
