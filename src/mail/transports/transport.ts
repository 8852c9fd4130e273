/** A message exactly as the outbox stores it, ready for the wire. */
export interface OutgoingMail {
  readonly raw: string
  readonly envelope: { readonly from: string; readonly to: readonly string[] }
}

/**
 * Where a worker hands its mail. `send` resolves with the server's reply when the message
 * was accepted and rejects with the server's error (see classifyFailure) when it was not,
 * or at once when `signal` aborts (the outcome on the server is then unknown).
 */
export interface MailTransport {
  send(mail: OutgoingMail, signal?: AbortSignal): Promise<{ response: string }>
  /** Closes every connection; sends still running reject. */
  close(): void
}
