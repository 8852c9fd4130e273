/**
 * RFC 3463 enhanced status codes (class.subject.detail: 5.1.1), the clearest part of an SMTP
 * reply or a bounce. Bounded quantifiers only: this runs on text strangers send us.
 */
export const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/

/** The first enhanced status code in `texts`, if any: `5.1.1`. */
export function enhancedStatus(...texts: unknown[]): string | undefined {
  for (const text of texts) {
    if (typeof text !== 'string') continue
    const match = ENHANCED_STATUS.exec(text)
    if (match) return match[0]
  }
  return undefined
}

/**
 * Whether a permanent failure says the address itself cannot take mail, so that mailing it again
 * is pointless: addressing (5.1.x: no such mailbox, no such domain) and a disabled mailbox (5.2.1).
 * A policy refusal (5.7.x: our IP blocklisted, DMARC, content), a full mailbox (5.2.2) or a relay
 * giving up (4.x.x) says nothing lasting about the address: one reputation incident must not
 * suppress good addresses in bulk. Unknown (a provider's "hard bounce" without a code): yes.
 */
export function statusSuppresses(status: string | undefined): boolean {
  if (status === undefined) return true
  return /^5\.1\.\d{1,3}$/.test(status) || status === '5.2.1'
}
