import { BlockList, isIP, isIPv4 } from 'node:net'
import { type Check, worst } from './check.ts'
import { type Answer, cannotResolve, type DoctorDns } from './dns.ts'

/** RFC 7208 §4.6.4: the most DNS-querying terms (include, a, mx, ptr, exists, redirect) one check may use. */
export const SPF_LOOKUP_LIMIT = 10

/** check_host()'s results (RFC 7208 §2.6), plus `unknown` for what this simple evaluator does not follow (macros, exists, ptr). */
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror' | 'unknown'

type SpfRecord = { kind: 'one'; record: string } | { kind: 'none' } | { kind: 'many'; records: string[] } | { kind: 'error'; error: string }

const QUALIFIER: Record<string, SpfResult> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' }

async function spfRecord(dns: DoctorDns, domain: string): Promise<SpfRecord> {
  const answer: Answer<string> = await dns.txt(domain)
  if (!answer.ok) return { kind: 'error', error: answer.error }
  const records = answer.records.filter((txt) => /^v=spf1(\s|$)/i.test(txt.trim()))
  if (records.length === 0) return { kind: 'none' }
  if (records.length > 1) return { kind: 'many', records }
  return { kind: 'one', record: records[0]!.trim() }
}

interface Term {
  readonly qualifier: SpfResult
  readonly mechanism: string
  /** The domain-spec or IP network after `:`, if any. */
  readonly value: string | undefined
  readonly cidr4: number | undefined
  readonly cidr6: number | undefined
}

/** Splits a record into its mechanisms and its redirect= modifier (other modifiers are ignored). */
function parse(record: string): { terms: Term[]; redirect: string | undefined } {
  const terms: Term[] = []
  let redirect: string | undefined
  for (const word of record.split(/\s+/).slice(1).filter(Boolean)) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(word)
    if (modifier) {
      if (modifier[1]!.toLowerCase() === 'redirect') redirect = modifier[2]
      continue
    }
    const qualifier = QUALIFIER[word[0]!] ?? 'pass'
    const rest = word[0]! in QUALIFIER ? word.slice(1) : word
    const ip = /^(ip4|ip6):(.+?)(?:\/(\d+))?$/i.exec(rest)
    if (ip) {
      const v4 = ip[1]!.toLowerCase() === 'ip4'
      const prefix = ip[3] === undefined ? undefined : Number(ip[3])
      terms.push({ qualifier, mechanism: ip[1]!.toLowerCase(), value: ip[2], cidr4: v4 ? prefix : undefined, cidr6: v4 ? undefined : prefix })
      continue
    }
    const other = /^([a-z]+)(?::([^/]+))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(rest)
    terms.push({
      qualifier,
      mechanism: other?.[1]?.toLowerCase() ?? rest,
      value: other?.[2],
      cidr4: other?.[3] === undefined ? undefined : Number(other[3]),
      cidr6: other?.[4] === undefined ? undefined : Number(other[4]),
    })
  }
  return { terms, redirect }
}

/** A term as written (qualifier aside), e.g. `ip4:192.0.2.0/24`, `a:mail.example.com//64`. */
function termText(term: Term): string {
  const value = term.value === undefined ? '' : `:${term.value}`
  if (term.mechanism === 'ip4' || term.mechanism === 'ip6') {
    const prefix = term.mechanism === 'ip4' ? term.cidr4 : term.cidr6
    return `${term.mechanism}${value}${prefix === undefined ? '' : `/${prefix}`}`
  }
  return `${term.mechanism}${value}${term.cidr4 === undefined ? '' : `/${term.cidr4}`}${term.cidr6 === undefined ? '' : `//${term.cidr6}`}`
}

const COUNTED = new Set(['include', 'a', 'mx', 'ptr', 'exists'])

/**
 * How many DNS-querying terms checking `domain`'s record may take, includes and redirects
 * followed (each counted, as receivers do). Stops counting past the limit.
 */
async function countLookups(dns: DoctorDns, domain: string, seen: Set<string>): Promise<number> {
  const found = await spfRecord(dns, domain)
  if (found.kind !== 'one' || seen.has(domain)) return 0
  seen.add(domain)
  const { terms, redirect } = parse(found.record)
  let count = 0
  for (const term of terms) {
    if (!COUNTED.has(term.mechanism)) continue
    count++
    if (term.mechanism === 'include' && term.value && !term.value.includes('%')) count += await countLookups(dns, term.value, seen)
    if (count > SPF_LOOKUP_LIMIT) return count
  }
  if (redirect && !redirect.includes('%') && !terms.some((t) => t.mechanism === 'all')) count += 1 + (await countLookups(dns, redirect, seen))
  return count
}

function inNetwork(ip: string, network: string, prefix: number | undefined): boolean {
  const list = new BlockList()
  const family = isIPv4(network) ? 'ipv4' : 'ipv6'
  if (isIP(network) === 0 || (isIPv4(ip) ? 'ipv4' : 'ipv6') !== family) return false
  list.addSubnet(network, prefix ?? (family === 'ipv4' ? 32 : 128), family)
  return list.check(ip, family)
}

interface Evaluation {
  readonly result: SpfResult
  /** The term that decided, e.g. `ip4:192.0.2.0/24` in `example.com`'s record. */
  readonly because: string
}

/**
 * RFC 7208's check_host() for one IP address, simplified: ip4, ip6, a, mx, include, all and
 * redirect are followed; a macro, `exists` or `ptr` before any match gives `unknown`.
 */
export async function checkHost(dns: DoctorDns, ip: string, domain: string, depth = 0): Promise<Evaluation> {
  if (depth > SPF_LOOKUP_LIMIT) return { result: 'permerror', because: 'more than 10 look-ups' }
  const found = await spfRecord(dns, domain)
  if (found.kind === 'error') return { result: 'temperror', because: `no DNS answer for ${domain}` }
  if (found.kind === 'none') return { result: 'none', because: `${domain} has no SPF record` }
  if (found.kind === 'many') return { result: 'permerror', because: `${domain} has several SPF records` }
  const { terms, redirect } = parse(found.record)
  for (const term of terms) {
    const because = `${termText(term)} in ${domain}'s record`
    if (term.value?.includes('%')) return { result: 'unknown', because: `${because} uses macros` }
    const target = term.value ?? domain
    const prefix = isIPv4(ip) ? term.cidr4 : term.cidr6
    switch (term.mechanism) {
      case 'all':
        return { result: term.qualifier, because }
      case 'ip4':
      case 'ip6':
        if (term.value && inNetwork(ip, term.value, term.mechanism === 'ip4' ? term.cidr4 : term.cidr6)) return { result: term.qualifier, because }
        break
      case 'a':
      case 'mx': {
        const hosts = term.mechanism === 'a' ? [target] : await mxHosts(dns, target)
        if (hosts === undefined) return { result: 'temperror', because: `no DNS answer for ${target}` }
        for (const host of hosts) {
          const addresses = await dns.addresses(host)
          if (!addresses.ok) return { result: 'temperror', because: `no DNS answer for ${host}` }
          if (addresses.records.some((address) => inNetwork(ip, address, prefix))) return { result: term.qualifier, because }
        }
        break
      }
      case 'include': {
        const inner = await checkHost(dns, ip, target, depth + 1)
        if (inner.result === 'pass') return { result: term.qualifier, because: `${because} (${inner.because})` }
        if (inner.result === 'temperror' || inner.result === 'unknown') return inner
        if (inner.result === 'permerror' || inner.result === 'none') return { result: 'permerror', because: `${because}: ${inner.because}` }
        break
      }
      case 'exists':
      case 'ptr':
        return { result: 'unknown', because: `${because} is not evaluated here` }
      default:
        return { result: 'permerror', because: `unknown mechanism "${term.mechanism}" in ${domain}'s record` }
    }
  }
  if (redirect) {
    const inner = await checkHost(dns, ip, redirect, depth + 1)
    return inner.result === 'none' ? { result: 'permerror', because: `redirect=${redirect}: ${inner.because}` } : inner
  }
  return { result: 'neutral', because: `nothing in ${domain}'s record matched` }
}

async function mxHosts(dns: DoctorDns, domain: string): Promise<string[] | undefined> {
  const answer = await dns.mx(domain)
  return answer.ok ? answer.records.map((mx) => mx.exchange) : undefined
}

/** The relay as the SPF check sees it: its addresses, or why they are unknown. */
export interface RelayAddresses {
  readonly host: string
  readonly addresses: readonly string[]
}

/** What the `all` at the end of a record means, and how worrying that is. */
function describeAll(record: string): { status: Check['status']; words: string } {
  const { terms, redirect } = parse(record)
  const all = terms.find((term) => term.mechanism === 'all')
  if (!all) {
    if (redirect) return { status: 'ok', words: `It ends with redirect=${redirect}: that domain's record decides the rest.` }
    return { status: 'warn', words: 'It has no "all" at the end, so hosts it does not list get "neutral": end it with ~all or -all.' }
  }
  switch (all.qualifier) {
    case 'fail':
      return { status: 'ok', words: 'It ends in -all: receivers may reject mail from hosts it does not list.' }
    case 'softfail':
      return { status: 'ok', words: 'It ends in ~all: mail from hosts it does not list is marked suspicious (soft fail).' }
    case 'neutral':
      return { status: 'warn', words: 'It ends in ?all, which says nothing about hosts it does not list: end it with ~all or -all.' }
    default:
      return { status: 'fail', words: 'It ends in +all, which authorises every host on the internet to send as this domain: end it with ~all or -all.' }
  }
}

/**
 * SPF of the envelope-sender domain: one `v=spf1` record, a sound ending, at most 10 look-ups,
 * and, when the relay's addresses are known, whether they pass.
 */
export async function spfCheck(dns: DoctorDns, domain: string, source: string, relay: RelayAddresses | undefined): Promise<Check> {
  const found = await spfRecord(dns, domain)
  const where = `SPF of ${domain} (${source})`
  if (found.kind === 'error') return { name: 'spf', status: 'unknown', message: `${where}: ${cannotResolve(domain, 'TXT', found.error)}.` }
  if (found.kind === 'none') {
    return {
      name: 'spf',
      status: 'fail',
      message: `${where}: no "v=spf1" TXT record, so receivers cannot tell which servers may send for ${domain}. Publish one that names your relay, e.g. "v=spf1 include:<your relay's SPF domain> -all".`,
    }
  }
  if (found.kind === 'many') {
    return {
      name: 'spf',
      status: 'fail',
      message: `${where}: ${found.records.length} "v=spf1" records; receivers must treat that as a permanent error (RFC 7208 §4.5), i.e. no SPF at all. Merge them into one.`,
      details: { records: found.records },
    }
  }
  const details: Record<string, unknown> = { domain, record: found.record }
  const lookups = await countLookups(dns, domain, new Set())
  details.lookups = lookups
  if (lookups > SPF_LOOKUP_LIMIT) {
    return {
      name: 'spf',
      status: 'fail',
      message: `${where}: "${found.record}" needs more than ${SPF_LOOKUP_LIMIT} DNS look-ups (include, a, mx, ptr, exists, redirect), so receivers answer "permerror" (RFC 7208 §4.6.4): flatten some includes.`,
      details,
    }
  }
  const ending = describeAll(found.record)
  const coverage = await relayCoverage(dns, domain, relay)
  details.relay = coverage.details
  return {
    name: 'spf',
    status: worst(ending.status, coverage.status),
    message: `${where}: "${found.record}". ${ending.words} ${coverage.words}`,
    details,
  }
}

async function relayCoverage(
  dns: DoctorDns,
  domain: string,
  relay: RelayAddresses | undefined,
): Promise<{ status: Check['status']; words: string; details: unknown }> {
  const unknowable = "Whether it authorises the relay can't be known from here: that needs the IP addresses the relay sends from."
  if (!relay || relay.addresses.length === 0) return { status: 'ok', words: unknowable, details: null }
  const results = await Promise.all(relay.addresses.map(async (ip) => ({ ip, ...(await checkHost(dns, ip, domain)) })))
  const details = results.map(({ ip, result, because }) => ({ ip, result, because }))
  const failing = results.filter((r) => r.result !== 'pass')
  if (failing.length === 0) {
    return { status: 'ok', words: `The relay ${relay.host} (${relay.addresses.join(', ')}) passes: ${results[0]!.because}.`, details }
  }
  const said = failing.map((r) => `${r.ip}: ${r.result}, ${r.because}`).join('; ')
  return {
    status: 'warn',
    words:
      `The relay ${relay.host}'s own address is not shown to pass (${said}). That is the address Ragtime connects to; ` +
      'a relay often sends from other addresses (a provider publishes them for an include:), so check the relay\'s documentation. ' +
      'If the relay is your own server, add it (ip4:/ip6:/a:).',
    details,
  }
}
