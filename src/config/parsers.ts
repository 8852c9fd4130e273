import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import path from 'node:path'
import { domainToASCII } from 'node:url'
import { z } from 'zod'

/** Where the data lives: a SQLite file (embedded default) or a PostgreSQL server (scale-out). */
export type DatabaseLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string }

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `250ms`, `5s`, `5m`, `24h`, `30d` → milliseconds. */
export const duration = z.string().trim().transform((value, ctx) => {
  const match = DURATION.exec(value)
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `must be a duration such as 250ms, 5s, 5m, 24h or 30d (got "${value}")` })
    return z.NEVER
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS])
})

/** Flask-style switches: true/false, 1/0, yes/no, on/off. */
export const flag = z.string().trim().toLowerCase().transform((value, ctx) => {
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false
  ctx.addIssue({ code: 'custom', message: `must be on or off (got "${value}")` })
  return z.NEVER
})

/** Exactly one of `values`: `oneOf(['production', 'development', 'test'])` for NODE_ENV. */
export function oneOf<const T extends readonly string[]>(values: T) {
  const listed = `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`
  return z.string().trim().transform((value, ctx): T[number] => {
    if (values.includes(value)) return value
    ctx.addIssue({ code: 'custom', message: `must be ${listed} (got "${value}")` })
    return z.NEVER
  })
}

export function integer(min: number, max: number) {
  return z.string().trim().transform((value, ctx) => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${value}")` })
      return z.NEVER
    }
    return n
  })
}

/** A single-line value: CR, LF and NUL would let a value forge a header. */
export const line = z.string().refine((value) => !/[\r\n\0]/.test(value), 'must be a single line')

export const httpUrl = z.string().trim().transform((value, ctx) => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be an absolute http(s) URL (got "${value}")` })
    return z.NEVER
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `must use http or https (got "${url.protocol}")` })
    return z.NEVER
  }
  return url.origin + url.pathname.replace(/\/+$/, '')
})

export function databaseLocation(cwd: string) {
  return z.string().trim().transform((value, ctx): DatabaseLocation => {
    if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value }
    if (value.startsWith('sqlite:')) {
      const rest = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
      if (rest.length > 0) return { kind: 'sqlite', path: path.resolve(cwd, rest) }
    }
    ctx.addIssue({
      code: 'custom',
      message: `must be sqlite:relative/path, sqlite:/absolute/path or postgres://… (got "${value}")`,
    })
    return z.NEVER
  })
}

/** Who may set X-Forwarded-For: nobody, the nearest N hops, or the listed proxy addresses/CIDRs. */
export type TrustedProxies = false | number | readonly string[]

const MAX_PROXY_HOPS = 10

/**
 * `off` | a hop count (`1`: one reverse proxy in front of the app) | `127.0.0.1,10.0.0.0/8,::1`.
 * `on` is refused: trusting every hop lets any client pick the address it is rate-limited under.
 */
export const trustedProxies = z.string().trim().transform((value, ctx): TrustedProxies => {
  const lower = value.toLowerCase()
  if (['', '0', 'off', 'false', 'no'].includes(lower)) return false
  if (['on', 'true', 'yes'].includes(lower)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'trusting every proxy lets any client choose its own address: give the number of reverse proxies in front of the app (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)',
    })
    return z.NEVER
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    if (hops <= MAX_PROXY_HOPS) return hops
    ctx.addIssue({ code: 'custom', message: `must be a number of proxies from 1 to ${MAX_PROXY_HOPS}, or their addresses (got "${value}")` })
    return z.NEVER
  }
  const entries = value.split(',').map((entry) => entry.trim())
  const bad = entries.filter((entry) => !isAddressOrCidr(entry))
  if (bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be off, a number of proxies, or proxy addresses/CIDRs such as 127.0.0.1,10.0.0.0/8,::1 (not valid: ${bad.map((b) => `"${b}"`).join(', ')})`,
    })
    return z.NEVER
  }
  return entries
})

function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128)
}

const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)$/
const PER_SECOND = { s: 1, m: 60, h: 3_600 } as const

function parseRate(value: string): number | undefined {
  const match = RATE.exec(value.trim())
  if (!match) return undefined
  const perSecond = Number(match[1]) / PER_SECOND[match[2] as keyof typeof PER_SECOND]
  return perSecond > 0 && perSecond <= 100_000 ? perSecond : undefined
}

/** `14/s`, `600/m`, `2000/h` → messages per second. */
export const rate = z.string().transform((value, ctx) => {
  const perSecond = parseRate(value)
  if (perSecond === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be a rate such as 14/s, 600/m or 2000/h, above 0 (got "${value}")` })
    return z.NEVER
  }
  return perSecond
})

/** `gmail.com=20/s,outlook.com=10/s` → domain (lower case, ASCII form) → messages per second. */
export const domainRates = z.string().transform((value, ctx) => {
  const rates = new Map<string, number>()
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [domain = '', spec = ''] = entry.split('=', 2)
    const ascii = domainToASCII(domain.trim().toLowerCase())
    const perSecond = parseRate(spec)
    if (!ascii || !ascii.includes('.') || perSecond === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a list such as gmail.com=20/s,outlook.com=10/s (got "${entry}")` })
      return z.NEVER
    }
    rates.set(ascii, perSecond)
  }
  return rates
})

/** A domain name, lower-cased, IDN in ASCII: `mail.example.com`. */
export const hostname = z.string().trim().transform((value, ctx) => {
  const ascii = domainToASCII(value.toLowerCase())
  if (!ascii || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(ascii)) {
    ctx.addIssue({ code: 'custom', message: `must be a domain name such as mail.example.com (got "${value}")` })
    return z.NEVER
  }
  return ascii
})

/** DNS servers: IP addresses with optional ports (`1.1.1.1,127.0.0.1:5353,[::1]:53`), comma- or space-separated. */
export const dnsServers = z.string().transform((value, ctx) => {
  const servers = value.split(/[\s,]+/).filter(Boolean)
  try {
    // Node's own parser of the form: the one the resolver will use.
    new Resolver().setServers(servers)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be IP addresses with optional ports, such as "1.1.1.1,[2606:4700::1111]:53" (${(err as Error).message})` })
    return z.NEVER
  }
  return servers
})
