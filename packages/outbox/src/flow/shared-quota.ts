import type { OutboxDb } from '../store/types.ts'
import { takeTokens } from '../store/flow.ts'

/** A worker takes this long's worth of a quota per trip to the database (at least one message, at most 50). */
const CHUNK_MS = 100
/** The most a quota lets through at once after a quiet spell: this long's worth. */
const BURST_MS = 200
/** While the database cannot be reached, what a quota waits before asking again. */
const ERROR_WAIT_MS = 1_000

/**
 * A send quota shared by every worker (`rate`, `domainRates`): the
 * tokens live in the database (see takeTokens), and this worker takes them a chunk at a time,
 * so a quota of 100/s costs about ten small writes per second, not a hundred. Across all
 * workers no more than the quota, plus BURST_MS worth, goes out in any stretch of time.
 */
export class SharedQuota {
  readonly perSecond: number
  readonly #db: OutboxDb
  readonly #key: string
  readonly #chunk: number
  readonly #onReady: () => void
  readonly #onError: (err: unknown) => void
  #tokens = 0
  #asking = false
  #askAfter = 0

  constructor(options: { db: OutboxDb; key: string; perSecond: number; onReady: () => void; onError: (err: unknown) => void }) {
    this.perSecond = options.perSecond
    this.#db = options.db
    this.#key = options.key
    this.#chunk = Math.max(1, Math.min(50, Math.round((options.perSecond * CHUNK_MS) / 1000)))
    this.#onReady = options.onReady
    this.#onError = options.onError
  }

  /** A chunk is being fetched: `onReady` is called when it arrives. */
  get asking(): boolean {
    return this.#asking
  }

  /**
   * 0 if a send may go now; else how many ms until it is worth asking again. While a chunk is
   * being fetched (see {@link asking}) the answer is a guess.
   */
  wait(now: number): number {
    if (this.#tokens >= 1) return 0
    if (this.#asking) return CHUNK_MS
    if (now < this.#askAfter) return this.#askAfter - now
    this.#ask(now)
    return CHUNK_MS
  }

  /** A send goes (after {@link wait} said 0). */
  take(): void {
    this.#tokens -= 1
    // The next chunk is fetched as the last token goes, so the next message rarely waits for it.
    if (this.#tokens < 1 && !this.#asking) {
      const now = Date.now()
      if (now >= this.#askAfter) this.#ask(now)
    }
  }

  #ask(now: number): void {
    this.#asking = true
    takeTokens(this.#db, this.#key, { count: this.#chunk, perSecond: this.perSecond, burstMs: BURST_MS, now })
      .then(
        (wait) => {
          if (wait === 0) this.#tokens += this.#chunk
          else this.#askAfter = now + wait
        },
        (err: unknown) => {
          this.#askAfter = now + ERROR_WAIT_MS
          this.#onError(err)
        },
      )
      .finally(() => {
        this.#asking = false
        this.#onReady()
      })
  }
}
