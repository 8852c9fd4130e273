/** Stable codes for what can go wrong with mail; docs/outbox.md lists them. */
export const MAIL_ERROR_CODES = Object.freeze({
  input: 'OUTBOX_ERR_INPUT',
})

/** A caller handed `enqueue` something that cannot become an email (a bug, not bad luck). */
export class MailInputError extends Error {
  readonly code = MAIL_ERROR_CODES.input
  constructor(message: string) {
    super(message)
    this.name = 'MailInputError'
  }
}
