import { EventEmitter } from 'node:events'

interface SignalEvents {
  /** Mail was committed in this process. */
  wake: []
  /** A worker in this process recorded outcomes. */
  recorded: []
}

/** In-process notifications between the outbox and the workers that share it. */
export class MailSignals extends EventEmitter<SignalEvents> {
  constructor() {
    super()
    this.setMaxListeners(0)
  }
}
