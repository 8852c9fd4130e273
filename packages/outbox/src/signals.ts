import { EventEmitter } from 'node:events'
import type { MailState } from './states.ts'
import type { Outcome } from './store/index.ts'

/** A message whose enqueueing transaction committed. */
export interface EnqueuedEvent {
  readonly template: string
  /** `suppressed` when the address is on the suppression list. */
  readonly state: MailState
}

/** One delivery attempt, once its outcome is recorded. */
export interface AttemptedEvent {
  readonly template: string
  readonly outcome: Outcome
  /** When the message was enqueued. */
  readonly createdAt: number
  /** How long the SMTP exchange took; null when no exchange took place. */
  readonly sendMs: number | null
  /** When the outcome was recorded. */
  readonly recordedAt: number
}

interface SignalEvents {
  /** Mail was committed in this process. */
  wake: []
  /** A worker in this process recorded outcomes. */
  recorded: []
  /** A worker in this process extended the lease on the mail it holds, to `leaseUntil` (outbox clock). */
  renewed: [{ readonly worker: string; readonly leaseUntil: number }]
  enqueued: [EnqueuedEvent]
  attempted: [AttemptedEvent]
}

/** In-process notifications between the outbox, its workers and whoever watches them (metrics). */
export class MailSignals extends EventEmitter<SignalEvents> {
  constructor() {
    super()
    this.setMaxListeners(0)
  }
}
