/**
 * What a relay's transient answer asks of the sender, beyond retrying the message:
 * - `connections`: too many connections (421 at the greeting, "too many connections"): use fewer.
 * - `rate`: the relay's send quota is exceeded (SES `454 Throttling failure`, any 454, "rate
 *   exceeded" or "throttl…" in a 4xx): send more slowly.
 * - `domain`: the recipient's domain defers us (a 4xx with enhanced status 4.7.x to RCPT TO or
 *   to the message, such as Gmail's `421 4.7.28` and `451 4.7.1`): pause that domain only.
 * - `none`: anything else (a network error, a 4xx about this mailbox, 5xx): an ordinary failure.
 */
export type Pushback = 'connections' | 'rate' | 'domain' | 'none'

interface SmtpErrorShape {
  code?: unknown
  command?: unknown
  responseCode?: unknown
  response?: unknown
}

const TOO_MANY_CONNECTIONS = /too many (concurrent )?(connections|sessions)|connection (limit|rate)|too many smtp sessions/i
const THROTTLED = /throttl|rate (limit|exceeded)|sending rate|too many (messages|emails|recipients)|quota/i
const ENHANCED_4_7 = /\b4\.7\.\d{1,3}\b/

export function pushbackOf(error: unknown): Pushback {
  if (typeof error !== 'object' || error === null) return 'none'
  const e = error as SmtpErrorShape
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined
  if (responseCode === undefined || responseCode < 400 || responseCode >= 500) return 'none'
  const response = typeof e.response === 'string' ? e.response : ''
  if (TOO_MANY_CONNECTIONS.test(response)) return 'connections'
  if (responseCode === 454 || THROTTLED.test(response)) return 'rate'
  // Before any message: the greeting, EHLO or AUTH. A 421 there is the server turning a
  // connection away, most often because we hold too many.
  const aboutMessage = e.code === 'EENVELOPE' || e.code === 'EMESSAGE'
  if (!aboutMessage) return responseCode === 421 ? 'connections' : 'none'
  if (e.command === 'MAIL FROM') return ENHANCED_4_7.test(response) ? 'rate' : 'none'
  return ENHANCED_4_7.test(response) ? 'domain' : 'none'
}
