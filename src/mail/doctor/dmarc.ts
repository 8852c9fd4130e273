import { type Check, organisationalDomain } from './check.ts'
import { parseTags } from './dkim.ts'
import { cannotResolve, type DoctorDns } from './dns.ts'

/** The DMARC record that applies to the From domain, as found. */
export type DmarcLookup =
  | { kind: 'found'; name: string; record: string; tags: Map<string, string>; inherited: boolean }
  | { kind: 'none'; asked: string[] }
  | { kind: 'many'; name: string; records: string[] }
  | { kind: 'error'; name: string; error: string }

/**
 * `_dmarc.<from domain>`, else `_dmarc.<organisational domain>` (the last two labels: see
 * {@link organisationalDomain}).
 */
export async function findDmarc(dns: DoctorDns, fromDomain: string): Promise<DmarcLookup> {
  const org = organisationalDomain(fromDomain)
  const names = [...new Set([`_dmarc.${fromDomain}`, `_dmarc.${org}`])]
  for (const name of names) {
    const answer = await dns.txt(name)
    if (!answer.ok) return { kind: 'error', name, error: answer.error }
    const records = answer.records.filter((txt) => /^v\s*=\s*DMARC1\s*(;|$)/.test(txt.trim()))
    if (records.length > 1) return { kind: 'many', name, records }
    if (records.length === 1) return { kind: 'found', name, record: records[0]!.trim(), tags: parseTags(records[0]!), inherited: name !== names[0] }
  }
  return { kind: 'none', asked: names }
}

const POLICY_WORDS: Record<string, string> = {
  none: 'p=none: receivers deliver mail that fails DMARC as usual and only report it (fine while you watch the reports)',
  quarantine: 'p=quarantine: mail that fails DMARC goes to spam',
  reject: 'p=reject: mail that fails DMARC is refused',
}

/**
 * DMARC: a record exists (none is a warning: Gmail and Yahoo require one of bulk senders, but
 * mail is still delivered), only one, and what its policy does.
 */
export function dmarcCheck(fromDomain: string, found: DmarcLookup): Check {
  switch (found.kind) {
    case 'error':
      return { name: 'dmarc', status: 'unknown', message: `DMARC of ${fromDomain}: ${cannotResolve(found.name, 'TXT', found.error)}.` }
    case 'none':
      return {
        name: 'dmarc',
        status: 'warn',
        message:
          `DMARC: no "v=DMARC1" record at ${found.asked.join(' or ')}. Gmail and Yahoo require one of bulk senders; to start, publish ` +
          `TXT _dmarc.${organisationalDomain(fromDomain)} "v=DMARC1; p=none; rua=mailto:<an address that reads reports>", then tighten p= once the reports are clean.`,
      }
    case 'many':
      return {
        name: 'dmarc',
        status: 'fail',
        message: `DMARC: ${found.name} has ${found.records.length} "v=DMARC1" records; receivers then ignore DMARC for the domain (RFC 7489 §6.6.3). Keep one.`,
        details: { records: found.records },
      }
    case 'found': {
      // A record found at the organisational domain applies its sp= (if any) to a subdomain sender.
      const policy = (found.inherited ? (found.tags.get('sp') ?? found.tags.get('p')) : found.tags.get('p'))?.toLowerCase()
      const where = found.inherited ? `${found.name} (inherited by ${fromDomain})` : found.name
      const details = { name: found.name, record: found.record, policy: policy ?? null }
      if (!policy || !(policy in POLICY_WORDS)) {
        return {
          name: 'dmarc',
          status: 'warn',
          message: `DMARC: "${found.record}" at ${where} has no valid p= (none, quarantine or reject); receivers may ignore it. Add p=none to start.`,
          details,
        }
      }
      return { name: 'dmarc', status: 'ok', message: `DMARC: "${found.record}" at ${where}. ${POLICY_WORDS[policy]}.`, details }
    }
  }
}

function aligned(domain: string, fromDomain: string, strict: boolean): boolean {
  return strict ? domain === fromDomain : organisationalDomain(domain) === organisationalDomain(fromDomain)
}

/**
 * DMARC alignment of what Ragtime sends: the From domain against the DKIM d= domain and against
 * the Return-Path (envelope-sender) domain; relaxed unless the record says adkim=s / aspf=s.
 * DMARC passes when either aligns (and its own check passes).
 */
export function alignmentCheck(fromDomain: string, dkimDomain: string | undefined, returnPathDomain: string, found: DmarcLookup): Check {
  const tags = found.kind === 'found' ? found.tags : new Map<string, string>()
  const strictDkim = tags.get('adkim')?.toLowerCase() === 's'
  const strictSpf = tags.get('aspf')?.toLowerCase() === 's'
  const mode = (strict: boolean) => (strict ? 'strict' : 'relaxed')
  const dkimAligned = dkimDomain !== undefined && aligned(dkimDomain, fromDomain, strictDkim)
  const spfAligned = aligned(returnPathDomain, fromDomain, strictSpf)
  const dkimWords =
    dkimDomain === undefined
      ? 'no DKIM signature'
      : `DKIM d=${dkimDomain} ${dkimAligned ? 'aligns' : 'does not align'} (${mode(strictDkim)})`
  const spfWords = `Return-Path ${returnPathDomain} ${spfAligned ? 'aligns' : 'does not align'} (${mode(strictSpf)})`
  const details = { from: fromDomain, dkim: dkimDomain ?? null, dkimAligned, returnPath: returnPathDomain, spfAligned }
  const head = `Alignment with From ${fromDomain}: ${dkimWords}; ${spfWords}.`
  if (dkimAligned) {
    return { name: 'alignment', status: 'ok', message: `${head} DMARC can pass on DKIM, which survives forwarding.`, details }
  }
  if (spfAligned) {
    return {
      name: 'alignment',
      status: 'warn',
      message:
        `${head} DMARC can pass on SPF alone, which fails when mail is forwarded` +
        `${dkimDomain === undefined ? '' : ' (and a DKIM signature of another domain does not count)'}: ` +
        (dkimDomain === undefined
          ? 'configure DKIM (see the dkim check). '
          : `sign with d=${fromDomain} (RAGTIME_DKIM_DOMAIN, or leave it unset to use the sender's domain). `) +
        'This assumes the relay keeps Ragtime\'s envelope sender; some relays put their own there.',
      details,
    }
  }
  return {
    name: 'alignment',
    status: 'fail',
    message:
      `${head} Neither aligns, so DMARC fails for every message; with p=quarantine or p=reject at ${fromDomain} it goes to spam or is refused. ` +
      `Sign with d=${fromDomain}, or use a bounce address under ${organisationalDomain(fromDomain)}.`,
    details,
  }
}
