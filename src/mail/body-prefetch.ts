import type { OutboxStore } from './store/index.ts'

/**
 * Loads the stored messages of a claimed batch a few at a time, just ahead of the lanes that
 * send them: a worker holds a handful of message bodies, never a whole batch's, and each one
 * dies young (cheap for the garbage collector).
 */
export class BodyPrefetch {
  readonly #store: Pick<OutboxStore, 'bodies'>
  readonly #ids: readonly number[]
  readonly #chunk: number
  readonly #loaded = new Map<number, Promise<string | undefined>>()
  #next = 0

  constructor(store: Pick<OutboxStore, 'bodies'>, ids: readonly number[], chunk: number) {
    this.#store = store
    this.#ids = ids
    this.#chunk = Math.max(1, chunk)
  }

  /** The body of `id` (undefined if it has none); `id` must be taken in batch order. */
  take(id: number): Promise<string | undefined> {
    while (!this.#loaded.has(id) && this.#next < this.#ids.length) this.#load()
    const body = this.#loaded.get(id) ?? Promise.resolve(undefined)
    this.#loaded.delete(id)
    // Stay one chunk ahead of the senders.
    if (this.#loaded.size < this.#chunk && this.#next < this.#ids.length) this.#load()
    return body
  }

  #load(): void {
    const ids = this.#ids.slice(this.#next, this.#next + this.#chunk)
    this.#next += ids.length
    const chunk = this.#store.bodies(ids)
    for (const id of ids) {
      const body = chunk.then((bodies) => bodies.get(id))
      body.catch(() => {}) // the taker sees the error; an untaken body must not crash the process
      this.#loaded.set(id, body)
    }
  }
}
