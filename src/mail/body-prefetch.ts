import type { OutboxStore } from './store/index.ts'

/**
 * Loads the stored messages of claimed mail a few at a time, just ahead of the senders: a worker
 * holds a handful of message bodies, never a whole batch's, and each one dies young (cheap for
 * the garbage collector).
 */
export class BodyPrefetch {
  readonly #store: Pick<OutboxStore, 'bodies'>
  readonly #chunk: number
  readonly #loaded = new Map<number, Promise<string | undefined>>()

  constructor(store: Pick<OutboxStore, 'bodies'>, chunk: number) {
    this.#store = store
    this.#chunk = Math.max(1, chunk)
  }

  /**
   * The body of `id` (undefined if it has none). `upcoming` is what will be sent next, in
   * order: enough of it is loaded in the same query to stay one chunk ahead.
   */
  take(id: number, upcoming: readonly { id: number }[]): Promise<string | undefined> {
    if (!this.#loaded.has(id)) this.#load([id, ...this.#unloaded(upcoming, this.#chunk - 1)])
    const body = this.#loaded.get(id) as Promise<string | undefined>
    this.#loaded.delete(id)
    if (this.#loaded.size < this.#chunk) {
      const ahead = this.#unloaded(upcoming, this.#chunk)
      if (ahead.length > 0) this.#load(ahead)
    }
    return body
  }

  /** Drops bodies loaded for mail that will not be sent now (released claims). */
  forget(ids: readonly number[]): void {
    for (const id of ids) this.#loaded.delete(id)
  }

  #unloaded(upcoming: readonly { id: number }[], max: number): number[] {
    const ids: number[] = []
    for (const { id } of upcoming) {
      if (ids.length >= max) break
      if (!this.#loaded.has(id)) ids.push(id)
    }
    return ids
  }

  #load(ids: readonly number[]): void {
    const chunk = this.#store.bodies(ids)
    for (const id of ids) {
      const body = chunk.then((bodies) => bodies.get(id))
      body.catch(() => {}) // the taker sees the error; an untaken body must not crash the process
      this.#loaded.set(id, body)
    }
  }
}
