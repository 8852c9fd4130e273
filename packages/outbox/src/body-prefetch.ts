import type { OutboxStore } from './store/index.ts'

type Loaded = { readonly id: number; readonly body: Promise<string | undefined> }

/**
 * Loads the stored messages of claimed mail a chunk at a time, just ahead of the senders: a
 * worker holds a few chunks of message bodies at most (two, and a third while the high lane puts
 * mail at the head of the queue; the worker's chunks are 25), never a whole backlog's, and each
 * one dies young (cheap for the garbage collector).
 */
export class BodyPrefetch {
  readonly #store: Pick<OutboxStore, 'bodies'>
  readonly #chunk: number
  /**
   * Loaded and not taken yet, in load order; never more than two chunks. An array, not a Map:
   * this object lives as long as the worker, and a long-lived Map whose entries come and go is
   * rehashed every few messages. V8 keeps each replaced table, still pointing at the promises
   * it held and at its successor, until the next full GC, so the bodies that passed through
   * were promoted to the old generation with it (about half of what a long drain promoted).
   */
  readonly #loaded: Loaded[] = []

  constructor(store: Pick<OutboxStore, 'bodies'>, chunk: number) {
    this.#store = store
    this.#chunk = Math.max(1, chunk)
  }

  /**
   * The body of `id` (undefined if it has none). `upcoming` is what will be sent next, in
   * order: enough of it is loaded in the same query to stay one chunk ahead. Only the first two
   * chunks of `upcoming` are ever loaded: mail put at its head (the high lane) is loaded when
   * taken, and does not pull bodies from deep in the queue.
   */
  take(id: number, upcoming: readonly { id: number }[]): Promise<string | undefined> {
    if (this.#indexOf(id) < 0) this.#load([id, ...this.#unloaded(upcoming, this.#chunk - 1)])
    const [{ body }] = this.#loaded.splice(this.#indexOf(id), 1) as [Loaded]
    if (this.#loaded.length < this.#chunk) {
      const ahead = this.#unloaded(upcoming, this.#chunk)
      if (ahead.length > 0) this.#load(ahead)
    }
    return body
  }

  /** Drops bodies loaded for mail that will not be sent now (released claims). */
  forget(ids: readonly number[]): void {
    for (const id of ids) {
      const index = this.#indexOf(id)
      if (index >= 0) this.#loaded.splice(index, 1)
    }
  }

  #indexOf(id: number): number {
    return this.#loaded.findIndex((loaded) => loaded.id === id)
  }

  #unloaded(upcoming: readonly { id: number }[], max: number): number[] {
    const ids: number[] = []
    const window = Math.min(upcoming.length, this.#chunk * 2)
    for (let i = 0; i < window && ids.length < max; i++) {
      const id = (upcoming[i] as { id: number }).id
      if (this.#indexOf(id) < 0) ids.push(id)
    }
    return ids
  }

  #load(ids: readonly number[]): void {
    const chunk = this.#store.bodies(ids)
    for (const id of ids) {
      const body = chunk.then((bodies) => bodies.get(id))
      body.catch(() => {}) // the taker sees the error; an untaken body must not crash the process
      this.#loaded.push({ id, body })
    }
  }
}
