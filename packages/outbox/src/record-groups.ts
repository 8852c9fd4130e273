/** How often the group size follows the delivery rate, measured over the stretch since the last time. */
const RATE_WINDOW_MS = 100

/** The fewest outcomes that write a group before its timer, whatever the rate. */
export const MIN_GROUP = 10

/**
 * How many outcomes a worker writes in one group. One commit per message would cap throughput;
 * a group that waits long widens the window of mail sent twice if the process dies before it is
 * written. So a group is written `afterMs` after its first outcome, or sooner once it holds what
 * that long brings at the delivery rate of the last tenth of a second: the timer alone fires late
 * on a busy event loop, and then the count is what keeps the group small. At a few hundred
 * messages a second groups stay at the minimum; at full speed against a relay that answers at
 * once, sizing them to the rate instead of 10 took a drain from about 4,200 to 4,500–5,000
 * messages a second.
 */
export class RecordGroups {
  readonly afterMs: number
  readonly #min: number
  readonly #max: number
  #size: number
  #counted = 0
  #since = Number.NEGATIVE_INFINITY

  constructor({ afterMs = 10, min = MIN_GROUP, max = 100 }: { afterMs?: number; min?: number; max?: number } = {}) {
    this.afterMs = afterMs
    this.#min = min
    this.#max = Math.max(min, max)
    this.#size = min
  }

  /** Outcomes that write a group before its timer fires. */
  get size(): number {
    return this.#size
  }

  /**
   * Counts an outcome at `now` (ms, monotonic). Once RATE_WINDOW_MS or more has passed since the
   * count began, the size follows that stretch's rate; a quiet spell counts as a low rate. The
   * stretch is short so that a drain of a few seconds runs at its own rate almost from the start;
   * outcomes that arrive together after the event loop stalled are counted over the stall too.
   */
  count(now: number): void {
    const elapsed = now - this.#since
    if (elapsed >= RATE_WINDOW_MS) {
      const perGroup = Math.round((this.#counted * this.afterMs) / elapsed)
      this.#size = Math.min(this.#max, Math.max(this.#min, perGroup))
      this.#since = now
      this.#counted = 0
    }
    this.#counted++
  }
}
