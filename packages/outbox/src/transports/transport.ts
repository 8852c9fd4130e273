/** A message exactly as the outbox stores it, ready for the wire. */
export interface OutgoingMail {
  readonly raw: string
  readonly envelope: { readonly from: string; readonly to: readonly string[] }
}

/**
 * Where a worker hands its mail. `send` resolves with the server's reply when the message
 * was accepted and rejects with the server's error (see classifyFailure) when it was not.
 * A send cannot be cancelled: at shutdown the worker stops waiting for it instead.
 */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<{ response: string }>
  /** Closes every connection; sends still running reject. */
  close(): void
  /** With a fallback relay (FailoverTransport): each relay's state and which one is in use. */
  relays?(): RelayStatus[]
  /** The most connections this transport may hold now (the worker's share of the relay's; see flow/). */
  setLimit?(connections: number): void
}

/** One relay as the failover transport sees it (see failover.ts). */
export interface RelayStatus {
  readonly name: 'primary' | 'fallback'
  readonly host: string
  readonly port: number
  /** up: takes mail; down: cooling down after failures; probing: one attempt decides whether it is back. */
  readonly state: 'up' | 'down' | 'probing'
  /** New attempts go here now. */
  readonly inUse: boolean
}

/** The error of a send the worker stopped waiting for (shutdown): a transient failure, so a retry. */
export function sendInterrupted(): Error {
  return Object.assign(new Error('send interrupted by shutdown'), { code: 'EABORTED' })
}
