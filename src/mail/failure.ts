/** What one failed attempt means for the message. */
export interface Failure {
  /** transient: try again later; permanent: `dead` now. */
  readonly kind: 'transient' | 'permanent'
  /** The mailbox does not exist (5.1.x): stop mailing the address. */
  readonly suppress: boolean
  /** One line for `last_error`. */
  readonly message: string
}

interface SmtpErrorShape {
  code?: unknown
  responseCode?: unknown
  response?: unknown
  message?: unknown
}

const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/

/**
 * The server's answer to this message (MAIL FROM, RCPT TO or DATA), as opposed to one about the
 * connection: a 5xx greeting (a blocklisted IP), EHLO, STARTTLS or AUTH says nothing about the
 * message, and the next attempt may well go through once an operator has acted.
 */
const ABOUT_THE_MESSAGE = new Set(['EENVELOPE', 'EMESSAGE'])

/**
 * Permanent: an SMTP 5xx answer to this message. Transient: everything else, network errors,
 * timeouts, SMTP 4xx, and a 5xx while setting up the connection (greeting, EHLO, STARTTLS,
 * authentication): that is the server's or the configuration's problem, not the message's.
 */
export function classifyFailure(error: unknown): Failure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SmtpErrorShape
  const code = typeof e.code === 'string' ? e.code : undefined
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined
  const response = typeof e.response === 'string' ? e.response : undefined
  const message = describe(code, responseCode, response ?? (typeof e.message === 'string' ? e.message : 'unknown error'))
  const permanent = responseCode !== undefined && responseCode >= 500 && responseCode < 600 && ABOUT_THE_MESSAGE.has(code ?? '')
  if (!permanent) return { kind: 'transient', suppress: false, message }
  const enhanced = response ? ENHANCED_STATUS.exec(response) : null
  return { kind: 'permanent', suppress: enhanced?.[1] === '5' && enhanced[2] === '1', message }
}

function describe(code: string | undefined, responseCode: number | undefined, detail: string): string {
  const label = [code, responseCode].filter((part) => part !== undefined).join(' ')
  const line = detail.replace(/\s+/g, ' ').trim()
  return (label ? `${label}: ${line}` : line).slice(0, 1000)
}
