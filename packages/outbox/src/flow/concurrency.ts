/**
 * Below this round trip per message, the worker's own CPU, not the relay, is what limits
 * delivery: more connections would only add sockets. A relay on loopback answers in ~1 ms; a
 * cloud relay in another region takes 50-300 ms, a slow one seconds.
 */
export const GROW_ABOVE_LATENCY_MS = 20

/**
 * After a relay turned a connection away, the limit stays at or under what it took (the ceiling)
 * and tries one more connection each this long without pushback.
 */
export const CEILING_PROBE_MS = 5_000

/**
 * How many messages this worker keeps in flight to one relay (each on its own connection):
 * AIMD, as TCP does for its window. It starts at `initial` (`concurrency`). While mail
 * waits for a connection and every send of the last round trip took long enough that the relay's
 * latency is the limit (see GROW_ABOVE_LATENCY_MS), each accepted message adds one connection
 * (and on a fast relay, connections above `initial` go again) until the first pushback
 * (slow start: the limit doubles per round trip), then one per limit's worth of accepted
 * messages (additive increase: +1 per round trip). When the relay turns a connection away (421
 * at the greeting, "too many connections"), the connections it did take are its limit: the
 * limit drops to one less than was in flight (each refusal lowers it again), and grows past that
 * ceiling by one connection per CEILING_PROBE_MS without a refusal, since relays' connection
 * limits rarely move. Never above `max`, never below 1.
 */
export class AdaptiveConcurrency {
  readonly #initial: number
  readonly #max: number
  #limit: number
  /** Slow start ends here: set by the first pushback. */
  #threshold: number
  /** What the relay was last seen to take; `max` until it turns a connection away. */
  #ceiling: number
  #ceilingSetAt = Number.NEGATIVE_INFINITY
  /**
   * The quickest send of the last window (a limit's worth of accepted messages, about a round
   * trip), as TCP Vegas takes its base RTT: one slow send (a connection opening) is no sign that
   * the relay is slow, every send of a window being slow is.
   */
  #lastMin = Number.POSITIVE_INFINITY
  #windowMin = Number.POSITIVE_INFINITY
  #windowCount = 0

  constructor({ initial, max }: { initial: number; max: number }) {
    this.#max = Math.max(1, max)
    this.#initial = Math.min(Math.max(1, initial), this.#max)
    this.#limit = this.#initial
    this.#threshold = this.#max
    this.#ceiling = this.#max
  }

  /** The most messages in flight now. */
  get limit(): number {
    return Math.floor(this.#limit)
  }

  /** A message was accepted after `latencyMs`; `waiting`: mail was ready and every slot was busy. */
  accepted(latencyMs: number, waiting: boolean, now: number): void {
    this.#windowMin = Math.min(this.#windowMin, latencyMs)
    if (++this.#windowCount >= this.limit) {
      this.#lastMin = this.#windowMin
      this.#windowMin = Number.POSITIVE_INFINITY
      this.#windowCount = 0
      // A fast relay: connections beyond the start bring nothing, and go one per window.
      if (this.#lastMin < GROW_ABOVE_LATENCY_MS && this.#limit > this.#initial) this.#limit = Math.max(this.#initial, this.#limit - 1)
    }
    if (!waiting || latencyMs < GROW_ABOVE_LATENCY_MS || this.#lastMin < GROW_ABOVE_LATENCY_MS) return
    if (this.#ceiling < this.#max && now - this.#ceilingSetAt >= CEILING_PROBE_MS) {
      this.#ceiling++
      this.#ceilingSetAt = now
    }
    const step = this.#limit < this.#threshold ? 1 : 1 / this.#limit
    this.#limit = Math.min(this.#ceiling, this.#limit + step)
  }

  /** The relay turned a connection away with `inFlight` messages in flight (that one included). */
  pushedBack(inFlight: number, now: number): void {
    this.#ceiling = Math.max(1, Math.min(this.#ceiling, inFlight - 1))
    this.#ceilingSetAt = now
    this.#limit = Math.min(this.#limit, this.#ceiling)
    this.#threshold = this.#limit
  }

  /**
   * The worker used at most `peak` slots since the last call: a limit it did not use is given
   * up (down to `initial`, or what a pushback left if lower), so that an idle worker does not hold another's share.
   */
  used(peak: number): void {
    if (peak < this.limit) this.#limit = Math.max(Math.min(this.#initial, this.#limit), peak + 1)
  }
}
