import type { SharedQuota } from './shared-quota.ts'

/** A domain's first pause after it defers us; doubled at each deferral of the probe, up to MAX_PAUSE_MS. */
export const FIRST_PAUSE_MS = 1_000
export const MAX_PAUSE_MS = 10_000

/** {@link DomainGates.holdUntil}: the domain's quota is fetching tokens; keep the message queued. */
export const FETCHING = -1

/** A scheduled message that comes due waits in the queue for its token up to this long. */
const SCHEDULED_WAIT_MS = 1_000
/** Scheduled messages remembered at most (others' deliveries leave ids behind): then forgotten. */
const MAX_SCHEDULED = 100_000

interface DomainFlow {
  /** Its configured quota (`domainRates`), if any. */
  readonly quota: SharedQuota | undefined
  /** Nothing goes to the domain before this. */
  pausedUntil: number
  /** The current pause; 0 while the domain takes mail. */
  pauseMs: number
  /** After a pause, one message (the probe) goes first; the rest wait for its answer. */
  probeInFlight: boolean
  /** The schedule of messages held back by the quota: the next one is due then. */
  nextFreeAt: number
}

/**
 * Flow per recipient domain: its configured quota, and its pause while it defers us. A domain
 * that answers 4xx 4.7.x (see pushback.ts) is paused for FIRST_PAUSE_MS; when the pause ends
 * one message probes it; a probe that is deferred again doubles the pause (up to MAX_PAUSE_MS),
 * one that is accepted ends it. Only that domain waits: the worker sends other mail meanwhile.
 */
export class DomainGates {
  readonly #flows = new Map<string, DomainFlow>()
  /** Messages given a place in a quota's schedule (see holdUntil), until they go. */
  readonly #scheduled = new Set<number>()
  readonly #quotaFor: (domain: string) => SharedQuota | undefined

  /** With no domain quota configured, a domain has state only while it defers us. */
  readonly #anyQuota: boolean

  constructor(quotaFor: (domain: string) => SharedQuota | undefined, anyQuota: boolean) {
    this.#quotaFor = quotaFor
    this.#anyQuota = anyQuota
  }

  /** Whether any domain may hold mail back now: otherwise no message needs its domain looked at. */
  get active(): boolean {
    return this.#anyQuota || this.#flows.size > 0
  }

  /**
   * 0 if mail may go to `domain` now; FETCHING while its quota's next tokens are on their way
   * (a moment: the message stays queued); else when it should be tried again: the end of the
   * domain's pause, or (quota) the next free place in the domain's schedule, which this message
   * takes, so that the messages held back come due one by one at the quota's pace.
   */
  holdUntil(domain: string, id: number, now: number): number {
    const flow = this.#flows.get(domain) ?? this.#quota(domain)
    if (!flow) return 0
    if (flow.pauseMs > 0) {
      if (now < flow.pausedUntil) return flow.pausedUntil
      if (flow.probeInFlight) return now + flow.pauseMs
    }
    const quota = flow.quota
    if (!quota) return 0
    const wait = quota.wait(now)
    if (wait === 0) return 0
    // A message back at its place in the schedule waits here for its token, not at the back.
    if (quota.asking || (this.#scheduled.has(id) && wait <= SCHEDULED_WAIT_MS)) return FETCHING
    const at = Math.max(now + wait, flow.nextFreeAt)
    flow.nextFreeAt = at + 1000 / quota.perSecond
    if (this.#scheduled.size >= MAX_SCHEDULED) this.#scheduled.clear()
    this.#scheduled.add(id)
    return at
  }

  /** A message to `domain` goes (after {@link holdUntil} said 0). */
  take(domain: string, id: number): void {
    this.#scheduled.delete(id)
    const flow = this.#flows.get(domain)
    if (!flow) return
    flow.quota?.take()
    if (flow.pauseMs > 0) flow.probeInFlight = true
  }

  /** The domain accepted a message: a pause ends. */
  accepted(domain: string): void {
    const flow = this.#flows.get(domain)
    if (!flow || flow.pauseMs === 0) return
    flow.pauseMs = 0
    flow.probeInFlight = false
    if (!flow.quota) this.#flows.delete(domain)
  }

  /** The domain deferred a message; returns when mail may go to it again. */
  deferred(domain: string, now: number): number {
    const flow = this.#flows.get(domain) ?? this.#add(domain, this.#quotaFor(domain))
    // Messages in flight when the pause began are deferred too: that is one event, not several.
    if (flow.pauseMs > 0 && now < flow.pausedUntil) return flow.pausedUntil
    flow.pauseMs = flow.pauseMs === 0 ? FIRST_PAUSE_MS : Math.min(MAX_PAUSE_MS, flow.pauseMs * 2)
    flow.pausedUntil = now + flow.pauseMs
    flow.probeInFlight = false
    return flow.pausedUntil
  }

  /** A message to `domain` got some other answer (or none): a probe's slot is free again. */
  settled(domain: string): void {
    const flow = this.#flows.get(domain)
    if (flow) flow.probeInFlight = false
  }

  /** Domains paused now, with when they may take mail again. */
  paused(now: number): { domain: string; until: number }[] {
    return [...this.#flows].filter(([, f]) => f.pauseMs > 0 && now < f.pausedUntil).map(([domain, f]) => ({ domain, until: f.pausedUntil }))
  }

  #quota(domain: string): DomainFlow | undefined {
    const quota = this.#quotaFor(domain)
    return quota ? this.#add(domain, quota) : undefined
  }

  #add(domain: string, quota: SharedQuota | undefined): DomainFlow {
    const flow: DomainFlow = { quota, pausedUntil: 0, pauseMs: 0, probeInFlight: false, nextFreeAt: 0 }
    this.#flows.set(domain, flow)
    return flow
  }
}
