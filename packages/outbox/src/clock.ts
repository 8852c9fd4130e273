/** The outbox's only source of time, so tests can move it forward instead of sleeping. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() })
