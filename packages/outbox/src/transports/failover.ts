import { nothingSent } from './smtp-pool.ts'
import type { MailTransport, OutgoingMail, RelayStatus } from './transport.ts'

export type { RelayStatus } from './transport.ts'

/** Consecutive server failures that take a relay out of use while the other is not known healthy. */
export const TRIP_AFTER = 3

/**
 * How long a relay stays out of use once its breaker trips: `initialMs` at first, doubled after
 * each failed probe up to `maxMs`, back to `initialMs` once it takes a message again.
 */
export const COOL_DOWN = { initialMs: 10_000, maxMs: 300_000 } as const

type RelayName = RelayStatus['name']

export interface Relay {
  readonly host: string
  readonly port: number
  readonly transport: MailTransport
}

export interface FailoverOptions {
  readonly primary: Relay
  readonly fallback: Relay
  /** Default TRIP_AFTER. */
  readonly tripAfter?: number
  /** Default COOL_DOWN. */
  readonly coolDown?: { readonly initialMs: number; readonly maxMs: number }
  /** Told each time a relay changes state (for the log). */
  readonly onChange?: (relay: RelayStatus, relays: readonly RelayStatus[]) => void
  readonly now?: () => number
}

/** How an attempt's result counts: an ordinary one, the half-open probe, or one sent while both relays are down. */
type Kind = 'normal' | 'probe' | 'forced'

/** A circuit breaker: one per relay. */
class Breaker {
  state: RelayStatus['state'] = 'up'
  /** Server failures in a row while up. */
  failures = 0
  downUntil = 0
  coolDownMs: number
  readonly name: RelayName
  readonly relay: Relay
  readonly coolDown: { readonly initialMs: number; readonly maxMs: number }

  constructor(name: RelayName, relay: Relay, coolDown: { readonly initialMs: number; readonly maxMs: number }) {
    this.name = name
    this.relay = relay
    this.coolDown = coolDown
    this.coolDownMs = coolDown.initialMs
  }

  /** Up, with no failure since it last took a message. */
  healthy(): boolean {
    return this.state === 'up' && this.failures === 0
  }

  /** Whether it takes an attempt now: any, only the probe (cool-down over), or none. */
  admits(now: number): 'yes' | 'probe' | 'no' {
    if (this.state === 'up') return 'yes'
    return this.state === 'down' && now >= this.downUntil ? 'probe' : 'no'
  }

  /** The server answered (accepted the message, or refused it: a reply about the message). */
  answered(kind: Kind): boolean {
    // A send that started before the breaker tripped says little; the probe (or a forced send) decides.
    if (this.state !== 'up' && kind === 'normal') return false
    const changed = this.state !== 'up'
    this.state = 'up'
    this.failures = 0
    this.coolDownMs = this.coolDown.initialMs
    return changed
  }

  /** A failure about the server, not the message. Returns whether the relay went down. */
  failed(kind: Kind, peerHealthy: boolean, tripAfter: number, now: number): boolean {
    if (this.state === 'probing' && kind === 'probe') {
      this.coolDownMs = Math.min(this.coolDown.maxMs, this.coolDownMs * 2)
      return this.trip(now)
    }
    if (this.state !== 'up') return false
    this.failures++
    return this.failures >= tripAfter || peerHealthy ? this.trip(now) : false
  }

  trip(now: number): boolean {
    this.state = 'down'
    this.failures = 0
    this.downUntil = now + this.coolDownMs
    return true
  }
}

/**
 * What a failed send says about the relay. `unsent`: the server could not be reached or refused
 * the session (connection refused or timed out, 421 or 5xx greeting, login refused, a 421 to
 * the message), and it did not take the message: trying the other relay now cannot duplicate it.
 * `message`: the server answered about this message (4xx/5xx to MAIL FROM, RCPT TO or DATA);
 * the relay works. `unknown`: the connection dropped or timed out while the message was on its
 * way: the relay is in trouble, but the message may have arrived.
 */
function judge(error: unknown): 'unsent' | 'message' | 'unknown' {
  if (nothingSent(error)) return 'unsent'
  const { responseCode } = (error ?? {}) as { responseCode?: unknown }
  if (responseCode === 421) return 'unsent'
  return typeof responseCode === 'number' ? 'message' : 'unknown'
}

/**
 * Two relays behind one transport. Attempts go to the primary while it is up; once it is down or
 * refusing (server failures, see {@link judge}) they go to the fallback. Each relay has a circuit
 * breaker: it trips after `tripAfter` server failures in a row, or at the first one when the
 * other relay is healthy; the relay then stays out of use for its cool-down, after which one
 * real send (the probe) decides: taken, the relay is up again (the primary takes the mail back);
 * failed again, the cool-down doubles. A send that fails before anything reached the server goes
 * to the other relay at once, inside the same attempt; one whose outcome is unknown fails (the
 * worker retries it later, possibly through the other relay: the same stored bytes, Message-ID
 * included). See docs/outbox.md, "Failover".
 */
export class FailoverTransport implements MailTransport {
  readonly #primary: Breaker
  readonly #fallback: Breaker
  readonly #tripAfter: number
  readonly #now: () => number
  readonly #onChange: FailoverOptions['onChange']
  #closed = false

  constructor(options: FailoverOptions) {
    const coolDown = options.coolDown ?? COOL_DOWN
    this.#primary = new Breaker('primary', options.primary, coolDown)
    this.#fallback = new Breaker('fallback', options.fallback, coolDown)
    this.#tripAfter = Math.max(1, options.tripAfter ?? TRIP_AFTER)
    this.#now = options.now ?? Date.now
    this.#onChange = options.onChange
  }

  async send(mail: OutgoingMail): Promise<{ response: string }> {
    const [first, kind] = this.#choose()
    try {
      return await this.#sendVia(first, kind, mail)
    } catch (error) {
      if (this.#closed || judge(error) !== 'unsent') throw error
      // Nothing reached `first`: the other relay, if it takes attempts now.
      const other = first === this.#primary ? this.#fallback : this.#primary
      const admits = other.admits(this.#now())
      if (admits === 'no') throw error
      if (admits === 'probe') this.#set(other, 'probing')
      return await this.#sendVia(other, admits === 'probe' ? 'probe' : 'normal', mail)
    }
  }

  close(): void {
    this.#closed = true
    this.#primary.relay.transport.close()
    this.#fallback.relay.transport.close()
  }

  /** The share applies to each relay: attempts go to one at a time, bar a probe. */
  setLimit(connections: number): void {
    this.#primary.relay.transport.setLimit?.(connections)
    this.#fallback.relay.transport.setLimit?.(connections)
  }

  /** Each relay's state, and which one new attempts go to. */
  relays(): RelayStatus[] {
    const inUse = this.#inUse()
    return [this.#primary, this.#fallback].map((b) => ({
      name: b.name,
      host: b.relay.host,
      port: b.relay.port,
      state: b.state,
      inUse: b === inUse,
    }))
  }

  async #sendVia(breaker: Breaker, kind: Kind, mail: OutgoingMail): Promise<{ response: string }> {
    try {
      const result = await breaker.relay.transport.send(mail)
      if (breaker.answered(kind)) this.#changed(breaker)
      return result
    } catch (error) {
      if (this.#closed) throw error
      if (judge(error) === 'message') {
        if (breaker.answered(kind)) this.#changed(breaker)
      } else {
        const peer = breaker === this.#primary ? this.#fallback : this.#primary
        if (breaker.failed(kind, peer.healthy(), this.#tripAfter, this.#now())) this.#changed(breaker)
      }
      throw error
    }
  }

  /** Where this attempt goes: the primary if it takes attempts, else the fallback; both down, the one back sooner. */
  #choose(): [Breaker, Kind] {
    const now = this.#now()
    for (const breaker of [this.#primary, this.#fallback]) {
      const admits = breaker.admits(now)
      if (admits === 'yes') return [breaker, 'normal']
      if (admits === 'probe') {
        this.#set(breaker, 'probing')
        return [breaker, 'probe']
      }
    }
    return [this.#primary.downUntil <= this.#fallback.downUntil ? this.#primary : this.#fallback, 'forced']
  }

  #inUse(): Breaker {
    const now = this.#now()
    if (this.#primary.state === 'up') return this.#primary
    if (this.#fallback.admits(now) !== 'no') return this.#fallback
    if (this.#primary.admits(now) !== 'no') return this.#primary
    return this.#primary.downUntil <= this.#fallback.downUntil ? this.#primary : this.#fallback
  }

  #set(breaker: Breaker, state: RelayStatus['state']): void {
    breaker.state = state
    this.#changed(breaker)
  }

  #changed(breaker: Breaker): void {
    if (!this.#onChange) return
    const relays = this.relays()
    this.#onChange(relays.find((r) => r.name === breaker.name)!, relays)
  }
}
