/**
 * ok: nothing to do. warn: mail goes out, but something hurts deliverability or safety.
 * fail: mail is rejected, lost or exposed, or receivers will not trust it. unknown: the check could
 * not be made (DNS or the relay did not answer): never read it as ok.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'unknown'

export interface Check {
  /** Stable, lower case: sender, spf, dkim, dmarc, alignment, relay, bounce. */
  readonly name: string
  readonly status: CheckStatus
  /** What was found and what it means, in plain words; what to do when it is not ok. */
  readonly message: string
  /** Facts behind the message (records as published, addresses…), for --json. */
  readonly details?: Record<string, unknown>
}

/** The worst of some statuses: fail, then unknown, then warn, then ok. */
export function worst(...statuses: CheckStatus[]): CheckStatus {
  for (const status of ['fail', 'unknown', 'warn'] as const) if (statuses.includes(status)) return status
  return 'ok'
}

/** The domain of an address (lower case). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase()
}

/**
 * The organisational domain, by a simple rule: the last two labels (`mail.example.com` →
 * `example.com`). It is wrong under public suffixes of two labels (`example.co.uk` gives
 * `co.uk`); the Public Suffix List would be right, at the price of a dependency.
 */
export function organisationalDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '').split('.').slice(-2).join('.')
}
