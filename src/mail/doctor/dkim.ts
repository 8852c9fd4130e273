import { createPublicKey, type KeyObject } from 'node:crypto'
import type { DkimConfig } from '../../config/index.ts'
import type { Check } from './check.ts'
import { cannotResolve, type DoctorDns } from './dns.ts'

/** `tag=value; …` of a DKIM or DMARC record, tag names in lower case. */
export function parseTags(record: string): Map<string, string> {
  const tags = new Map<string, string>()
  for (const part of record.split(';')) {
    const at = part.indexOf('=')
    if (at > 0) tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim())
  }
  return tags
}

/** The SPKI DER of a published `p=` value (SubjectPublicKeyInfo, or a bare PKCS#1 RSA key). */
function publishedKey(p: string): Buffer | undefined {
  const der = Buffer.from(p.replace(/\s+/g, ''), 'base64')
  for (const type of ['spki', 'pkcs1'] as const) {
    let key: KeyObject
    try {
      key = createPublicKey({ key: der, format: 'der', type })
    } catch {
      continue
    }
    return key.export({ type: 'spki', format: 'der' })
  }
  return undefined
}

const SETUP =
  'To set it up: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem; set RAGTIME_DKIM_SELECTOR ' +
  '(any label, e.g. "ragtime1") and RAGTIME_DKIM_PRIVATE_KEY (the PEM or its path); then run this doctor again: it prints the TXT record to publish ' +
  'at <selector>._domainkey.<your domain>.'

/**
 * DKIM: with a key configured, `<selector>._domainkey.<domain>` publishes exactly its public key;
 * without one, a warning (Gmail, Yahoo and Microsoft require DKIM of bulk senders).
 */
export async function dkimCheck(dns: DoctorDns, dkim: DkimConfig | undefined): Promise<Check> {
  if (!dkim) {
    return {
      name: 'dkim',
      status: 'warn',
      message:
        'DKIM is not configured, so mail leaves unsigned. Gmail, Yahoo and Microsoft require DKIM of bulk senders, and without it DMARC ' +
        `rests on SPF alone, which breaks when mail is forwarded. ${SETUP}`,
    }
  }
  const name = `${dkim.selector}._domainkey.${dkim.domain}`
  const ours = createPublicKey(dkim.privateKey).export({ type: 'spki', format: 'der' })
  const publish = `v=DKIM1; k=rsa; p=${ours.toString('base64')}`
  const details: Record<string, unknown> = { name, expected: publish }
  const answer = await dns.txt(name)
  if (!answer.ok) return { name: 'dkim', status: 'unknown', message: `DKIM (d=${dkim.domain}, s=${dkim.selector}): ${cannotResolve(name, 'TXT', answer.error)}.`, details }
  const records = answer.records.filter((txt) => parseTags(txt).has('p'))
  details.published = answer.records
  const publishIt = `Publish this TXT record at ${name}:\n${publish}`
  if (records.length === 0) {
    return {
      name: 'dkim',
      status: 'fail',
      message: `DKIM: no key is published at ${name} (no TXT record with p=), so every signature fails at the receiver. ${publishIt}`,
      details,
    }
  }
  if (records.length > 1) {
    return { name: 'dkim', status: 'fail', message: `DKIM: ${name} has ${records.length} key records; receivers may pick either. Keep only one. ${publishIt}`, details }
  }
  const tags = parseTags(records[0]!)
  const problem =
    tags.has('v') && tags.get('v') !== 'DKIM1'
      ? `its v= is "${tags.get('v')}", not DKIM1`
      : tags.has('k') && tags.get('k')?.toLowerCase() !== 'rsa'
        ? `its k= is "${tags.get('k')}", but Ragtime signs with RSA`
        : tags.get('p') === ''
          ? 'its p= is empty: the key is revoked'
          : tags.has('h') && !tags.get('h')!.toLowerCase().split(':').map((h) => h.trim()).includes('sha256')
            ? `its h= (${tags.get('h')}) does not allow sha256, which Ragtime signs with`
            : undefined
  if (problem) return { name: 'dkim', status: 'fail', message: `DKIM: the record at ${name} is unusable: ${problem}. ${publishIt}`, details }
  const theirs = publishedKey(tags.get('p')!)
  if (!theirs) return { name: 'dkim', status: 'fail', message: `DKIM: the p= at ${name} is not a public key (bad base64 or DER). ${publishIt}`, details }
  if (!theirs.equals(ours)) {
    return {
      name: 'dkim',
      status: 'fail',
      message: `DKIM: the key published at ${name} is not the public half of RAGTIME_DKIM_PRIVATE_KEY, so every signature fails at the receiver. ${publishIt}`,
      details,
    }
  }
  const testing = (tags.get('t') ?? '').split(':').map((flag) => flag.trim()).includes('y')
  if (testing) {
    return {
      name: 'dkim',
      status: 'warn',
      message: `DKIM: ${name} publishes the right key, but with t=y (testing): receivers may treat signed mail as unsigned. Remove t=y.`,
      details,
    }
  }
  return { name: 'dkim', status: 'ok', message: `DKIM: ${name} publishes the public half of RAGTIME_DKIM_PRIVATE_KEY; signatures (d=${dkim.domain}) will verify.`, details }
}
