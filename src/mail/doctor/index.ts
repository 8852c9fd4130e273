import { isIP } from 'node:net'
import type { Config } from '../../config/index.ts'
import { parseMailbox } from '../../lib/email-address.ts'
import { isMailboxProvider } from '../mailbox-providers.ts'
import { type Check, type CheckStatus, domainOf } from './check.ts'
import { dkimCheck } from './dkim.ts'
import { alignmentCheck, dmarcCheck, findDmarc } from './dmarc.ts'
import { cannotResolve, type DoctorDns } from './dns.ts'
import { probeRelay, relayCheck } from './relay.ts'
import { type RelayAddresses, spfCheck } from './spf.ts'

export type { Check, CheckStatus } from './check.ts'
export { type DoctorDns, doctorDns } from './dns.ts'

export interface DoctorReport {
  /** True only when no check failed and none could not be made. Warnings do not make it false. */
  readonly ok: boolean
  readonly checks: readonly Check[]
}

/** The sender must not be a mailbox at a big provider: their DMARC p=reject refuses such mail. */
function senderCheck(address: string): Check {
  const domain = domainOf(address)
  if (isMailboxProvider(domain)) {
    return {
      name: 'sender',
      status: 'fail',
      message:
        `Sender ${address} is a mailbox at ${domain}, a mailbox provider: mail "from" it that ${domain}'s own servers did not send fails DMARC, ` +
        'and receivers refuse it or file it as spam (yahoo.com and aol.com publish p=reject, and the others enforce it or are moving to). ' +
        'Send from a domain you control (RAGTIME_MAIL_SENDER, e.g. "Ragtime <noreply@example.com>").',
      details: { address, domain },
    }
  }
  return { name: 'sender', status: 'ok', message: `Sender ${address}: a domain of your own, not a mailbox provider's.`, details: { address, domain } }
}

/**
 * Where bounces go: RAGTIME_BOUNCE_ADDRESS's domain must have MX records (fail without); when it is
 * unset, the sender's own address is the envelope sender, and a missing MX there is a warning.
 */
async function bounceCheck(dns: DoctorDns, bounceAddress: string | undefined, senderAddress: string): Promise<Check> {
  const address = bounceAddress ?? senderAddress
  const domain = domainOf(address)
  const what = bounceAddress ? `Bounce address ${address} (RAGTIME_BOUNCE_ADDRESS)` : `RAGTIME_BOUNCE_ADDRESS is not set, so bounces go to the sender ${address}`
  const answer = await dns.mx(domain)
  if (!answer.ok) return { name: 'bounce', status: 'unknown', message: `${what}: ${cannotResolve(domain, 'MX', answer.error)}.` }
  const hosts = [...answer.records].sort((a, b) => a.priority - b.priority)
  const details = { address, domain, mx: hosts.map((mx) => `${mx.priority} ${mx.exchange}`) }
  const nullMx = hosts.length === 1 && (hosts[0]!.exchange === '' || hosts[0]!.exchange === '.')
  if (hosts.length === 0 || nullMx) {
    return {
      name: 'bounce',
      status: bounceAddress ? 'fail' : 'warn',
      message:
        `${what}: ${domain} ${nullMx ? 'has a null MX (it accepts no mail)' : 'has no MX records'}, so bounce reports cannot reach it` +
        (bounceAddress
          ? ' and Ragtime never learns which addresses are dead. Add MX records pointing at the host that runs the bounce receiver (RAGTIME_BOUNCE_SMTP_PORT) or a mailbox Ragtime reads.'
          : '; some receivers also refuse mail whose envelope sender cannot receive replies. Set RAGTIME_BOUNCE_ADDRESS, or add MX records.'),
      details,
    }
  }
  return { name: 'bounce', status: 'ok', message: `${what}: ${domain} receives mail (MX ${details.mx.join(', ')}).`, details }
}

/** The relay's addresses for the SPF check: an IP literal as is, else its A/AAAA records. */
async function relayAddresses(dns: DoctorDns, host: string | undefined): Promise<RelayAddresses | undefined> {
  if (host === undefined) return undefined
  if (isIP(host)) return { host, addresses: [host] }
  const answer = await dns.addresses(host)
  return answer.ok ? { host, addresses: answer.records } : undefined
}

/**
 * Checks the configured sender and relay the way receivers will judge them: sender domain, SPF,
 * DKIM, DMARC, alignment, the relay's TLS, and the bounce address. Never throws for what it finds;
 * every look-up that gets no answer is reported as `unknown`, never as ok.
 *
 * ### Examples
 * ```ts
 * const report = await mailDoctor(loadConfig(), { dns: doctorDns(['127.0.0.1:5353']) })
 * if (!report.ok) process.exitCode = 1
 * ```
 */
export async function mailDoctor(config: Config, { dns }: { dns: DoctorDns }): Promise<DoctorReport> {
  const sender = parseMailbox(config.mailSender)?.address ?? config.mailSender
  const fromDomain = domainOf(sender)
  const returnPath = config.bounceAddress ?? sender
  const returnPathDomain = domainOf(returnPath)
  const spfSource = config.bounceAddress ? 'the envelope sender: RAGTIME_BOUNCE_ADDRESS' : 'the envelope sender: the sender\'s address'
  const [relay, spf, dkim, dmarc, bounce] = await Promise.all([
    config.smtp ? probeRelay(config.smtp) : Promise.resolve(undefined),
    relayAddresses(dns, config.smtp?.host).then((addresses) => spfCheck(dns, returnPathDomain, spfSource, addresses)),
    dkimCheck(dns, config.dkim),
    findDmarc(dns, fromDomain),
    bounceCheck(dns, config.bounceAddress, sender),
  ])
  const checks: Check[] = [
    senderCheck(sender),
    spf,
    dkim,
    dmarcCheck(fromDomain, dmarc),
    alignmentCheck(fromDomain, config.dkim?.domain, returnPathDomain, dmarc),
    relayCheck(config.smtp, config.production, relay),
    bounce,
  ]
  return { ok: checks.every((check) => check.status === 'ok' || check.status === 'warn'), checks }
}

const LABEL: Record<CheckStatus, string> = { ok: 'OK', warn: 'WARN', fail: 'FAIL', unknown: 'UNKNOWN' }

/** The report for a person: one paragraph per check, then a verdict. */
export function formatReport(report: DoctorReport, heading: string): string {
  const lines = [heading, '']
  for (const check of report.checks) {
    const [first = '', ...rest] = check.message.split('\n')
    lines.push(`${LABEL[check.status].padEnd(7)} ${check.name.padEnd(9)} ${first}`)
    for (const line of rest) lines.push(`${' '.repeat(18)}${line}`)
  }
  const count = (status: CheckStatus) => report.checks.filter((check) => check.status === status).length
  const [failed, unknown, warned] = [count('fail'), count('unknown'), count('warn')]
  const parts = [
    failed > 0 ? `${failed} failed` : '',
    unknown > 0 ? `${unknown} could not be checked` : '',
    warned > 0 ? `${warned} ${warned === 1 ? 'warning' : 'warnings'}` : '',
  ].filter(Boolean)
  lines.push('')
  lines.push(report.ok ? `OK${parts.length > 0 ? ` (${parts.join(', ')})` : ': every check passed'}` : `NOT OK: ${parts.join(', ')}`)
  return lines.join('\n')
}
