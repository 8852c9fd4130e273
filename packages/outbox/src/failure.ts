import { ENHANCED_STATUS, enhancedStatus } from './smtp-status.ts'

/** What one failed attempt means for the message. */
export interface Failure {
  /** transient: try again later; permanent: `dead` now. */
  readonly kind: 'transient' | 'permanent'
  /** The server said the recipient's mailbox or domain does not exist (5.1.x): stop mailing the address. */
  readonly suppress: boolean
  /** One line for `last_error`. */
  readonly message: string
  /** The server's reply code (550), when a server answered. */
  readonly smtpCode: number | null
  /** The reply's enhanced status (5.1.1), when it had one. */
  readonly smtpStatus: string | null
}

interface SmtpErrorShape {
  code?: unknown
  command?: unknown
  responseCode?: unknown
  response?: unknown
  message?: unknown
}


/**
 * The server's answer to this message (MAIL FROM, RCPT TO or DATA), as opposed to one about the
 * connection: a 5xx greeting (a blocklisted IP), EHLO, STARTTLS or AUTH says nothing about the
 * message, and the next attempt may well go through once an operator has acted.
 */
const ABOUT_THE_MESSAGE = new Set(['EENVELOPE', 'EMESSAGE'])

/**
 * RFC 3463 X.1.7 (bad sender's mailbox address syntax) and X.1.8 (bad sender's system address):
 * 5.1.x codes about our sender, not the recipient. Postfix, for one, reports its sender checks
 * in its answer to RCPT TO (smtpd_delay_reject), so they are no sign of a bad recipient anywhere.
 */
const ABOUT_THE_SENDER = new Set(['7', '8'])

/**
 * Permanent: an SMTP 5xx answer to this message. Transient: everything else, network errors,
 * timeouts, SMTP 4xx, and a 5xx while setting up the connection (greeting, EHLO, STARTTLS,
 * authentication): that is the server's or the configuration's problem, not the message's.
 *
 * Suppress: a permanent failure whose enhanced status is 5.1.x, other than the sender codes
 * 5.1.7 and 5.1.8, in the answer to RCPT TO or to the message (the DATA command or the end of
 * the data). A refused MAIL FROM is about our sender, which every message shares: the message
 * is dead, and no recipient is suppressed. nodemailer's SMTPConnection names the command an
 * answer was to in the error's `command` ('MAIL FROM', 'RCPT TO', 'DATA'); an EENVELOPE error
 * that names none cannot be told apart from a refused sender and suppresses nothing.
 */
export function classifyFailure(error: unknown): Failure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpErrorShape
  const code = typeof e.code === 'string' ? e.code : undefined
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined
  const response = typeof e.response === 'string' ? e.response : undefined
  // A refused sender says so in its label (`EENVELOPE 550 MAIL FROM: …`): the operator sees that
  // the fault is ours, and it does not read as a recipient's bounce (`EENVELOPE 550: …`).
  const label = e.command === 'MAIL FROM' && responseCode !== undefined ? `${responseCode} MAIL FROM` : responseCode
  const message = describe(code, label, response ?? (typeof e.message === 'string' ? e.message : 'unknown error'))
  const reply = { smtpCode: responseCode ?? null, smtpStatus: (responseCode !== undefined && enhancedStatus(response)) || null }
  const permanent = responseCode !== undefined && responseCode >= 500 && responseCode < 600 && ABOUT_THE_MESSAGE.has(code ?? '')
  if (!permanent) return { kind: 'transient', suppress: false, message, ...reply }
  return { kind: 'permanent', suppress: aboutTheRecipient(code, e.command) && unknownMailbox(response), message, ...reply }
}

/** The answer was to RCPT TO or to the message itself, not to MAIL FROM. */
function aboutTheRecipient(code: string | undefined, command: unknown): boolean {
  if (command === 'RCPT TO' || command === 'DATA') return true
  // Only the end of the data is answered with EMESSAGE; any other command named is not about the recipient.
  return command === undefined && code === 'EMESSAGE'
}

/**
 * Postfix's sender checks (reject_unlisted_sender, reject_unverified_sender…) answer RCPT TO
 * with a generic 5.1.0 and say in words whose address it is: "Sender address rejected".
 */
const SENDER_REFUSED = /\bsender address\b/i

/** 5.1.x: the address does not exist (no such mailbox, bad domain), unless it is about our sender. */
function unknownMailbox(response: string | undefined): boolean {
  const enhanced = response ? ENHANCED_STATUS.exec(response) : null
  if (!response || !enhanced || enhanced[1] !== '5' || enhanced[2] !== '1') return false
  return !ABOUT_THE_SENDER.has(String(Number(enhanced[3]))) && !SENDER_REFUSED.test(response)
}

function describe(code: string | undefined, responseCode: number | string | undefined, detail: string): string {
  const label = [code, responseCode].filter((part) => part !== undefined).join(' ')
  const line = detail.replace(/\s+/g, ' ').trim()
  return (label ? `${label}: ${line}` : line).slice(0, 1000)
}
