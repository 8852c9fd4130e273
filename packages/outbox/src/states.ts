/**
 * The life of an outbox message (transitions in docs/outbox.md):
 * queued → sending → sent | retrying | dead; retrying → sending; queued/retrying → cancelled;
 * a message to a suppressed address is born `suppressed` and never sent; one still unsent at its
 * deadline ends `expired`; a sent one whose permanent bounce comes back later ends `bounced`.
 */
export const MAIL_STATES = Object.freeze([
  'queued',
  'sending',
  'sent',
  'retrying',
  'dead',
  'suppressed',
  'cancelled',
  'expired',
  'bounced',
] as const)

export type MailState = (typeof MAIL_STATES)[number]

/** States a worker may claim from. */
export const WAITING_STATES = Object.freeze(['queued', 'retrying'] as const satisfies readonly MailState[])

/**
 * States a message does not leave by itself: it will not be sent (again) unless an operator
 * retries it. Only these may lose their stored message before retention (`bodyExpiresAt`).
 */
export const FINISHED_STATES = Object.freeze(['sent', 'dead', 'cancelled', 'suppressed', 'expired', 'bounced'] as const satisfies readonly MailState[])

/** The other states: the message may still be sent. Every state is finished or unfinished. */
export const UNFINISHED_STATES = Object.freeze(['queued', 'sending', 'retrying'] as const satisfies readonly MailState[])

/** States under which a dedupe key is taken. */
export const LIVE_STATES = Object.freeze(['queued', 'sending', 'retrying', 'sent'] as const satisfies readonly MailState[])

export function isMailState(value: string): value is MailState {
  return (MAIL_STATES as readonly string[]).includes(value)
}

/**
 * Transactional mail (confirmations, resets) goes before notices: a backlog of notices never
 * delays someone waiting for a link.
 */
export const MAIL_PRIORITIES = Object.freeze({ high: 0, normal: 5, low: 9 })

export type MailPriority = keyof typeof MAIL_PRIORITIES
