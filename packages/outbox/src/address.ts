import { domainToASCII } from 'node:url'
import addressparser from 'nodemailer/lib/addressparser'

/** Why an address was refused (the app words it for its users). */
export type AddressProblem =
  | 'missing'
  | 'too-long'
  | 'local-too-long'
  | 'control-characters'
  | 'malformed'
  | 'local-not-ascii'
  | 'bad-domain'

export type AddressResult = { ok: true; address: string } | { ok: false; problem: AddressProblem }

// RFC 5321 dot-atom: atext runs separated by single dots.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/
// C0/C1 controls, DEL, bidi overrides and zero-width characters never belong in an address.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/

function refuse(problem: AddressProblem): AddressResult {
  return { ok: false, problem }
}

/**
 * Validates an address by syntax only, with no DNS look-up (a domain needs a dot unless
 * `singleLabelDomain`, for a development sender such as noreply@localhost), and normalises it: trimmed, the domain
 * lower-cased and IDN domains converted to their ASCII (punycode) form.
 */
export function normalizeAddress(input: unknown, { singleLabelDomain = false } = {}): AddressResult {
  if (typeof input !== 'string' || input.trim() === '') return refuse('missing')
  const value = input.trim()
  if (INVISIBLE.test(value)) return refuse('control-characters')
  if (value.length > 254) return refuse('too-long')
  const at = value.lastIndexOf('@')
  if (at <= 0 || at === value.length - 1) return refuse('malformed')
  const local = value.slice(0, at)
  const domainInput = value.slice(at + 1)
  if (local.length > 64) return refuse('local-too-long')
  if (/[^\x21-\x7e]/.test(local)) return refuse('local-not-ascii')
  if (!LOCAL_PART.test(local)) return refuse('malformed')
  const domain = domainToASCII(domainInput.toLowerCase())
  const labels = domain.split('.')
  if (domain === '' || (labels.length < 2 && !singleLabelDomain) || !labels.every((label) => DOMAIN_LABEL.test(label))) {
    return refuse('bad-domain')
  }
  const address = `${local}@${domain}`
  if (address.length > 254) return refuse('too-long')
  return { ok: true, address }
}

/** The key under which two spellings of one mailbox compare equal. */
export function addressKey(address: string): string {
  return address.toLowerCase()
}

export interface Mailbox {
  readonly name: string
  readonly address: string
}

/** Parses `Name <address>` or a bare address; undefined unless it is exactly one valid mailbox. */
export function parseMailbox(value: string): Mailbox | undefined {
  if (INVISIBLE.test(value)) return undefined
  const [first, ...rest] = addressparser(value, { flatten: true })
  if (!first || rest.length > 0) return undefined
  const address = normalizeAddress(first.address, { singleLabelDomain: true })
  return address.ok ? { name: first.name, address: address.address } : undefined
}
