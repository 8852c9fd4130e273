import { createHmac, timingSafeEqual } from 'node:crypto'
import { escapeRegExp as escape } from './regexp.ts'

/**
 * VERP (variable envelope return path): each message's envelope sender is
 * `<local>+<id>-<mac>@<domain>` of the bounce address, so a bounce names the message it is
 * about whatever the remote server writes in it. The MAC (HMAC-SHA256 keyed by the app's key, 48
 * bits) makes addresses unforgeable: mail to a made-up one is refused at RCPT TO.
 */
export interface Verp {
  address(outboxId: number): string
  /** The message id that `recipient` names, or null when it is not one of ours (or forged). */
  parse(recipient: string): number | null
}

const MAC_CHARS = 12

/**
 * VERP addresses of `bounceAddress`, their MACs keyed by `key`: 32 random bytes or more, or a key
 * derived from the app's secret (the same key in every process, and across deploys, or bounces of
 * mail sent before a change are refused as forged).
 */
export function verp(bounceAddress: string, key: string | Buffer): Verp {
  const at = bounceAddress.lastIndexOf('@')
  const local = bounceAddress.slice(0, at)
  const domain = bounceAddress.slice(at + 1).toLowerCase()
  const mac = (id: string) => createHmac('sha256', key).update(id).digest('hex').slice(0, MAC_CHARS)
  const pattern = new RegExp(`^${escape(local)}\\+(\\d{1,15})-([0-9a-f]{${MAC_CHARS}})@${escape(domain)}$`, 'i')
  return {
    address: (outboxId) => `${local}+${outboxId}-${mac(String(outboxId))}@${domain}`,
    parse(recipient) {
      const match = pattern.exec(recipient.trim())
      if (!match) return null
      const [, id = '', given = ''] = match
      const expected = Buffer.from(mac(id))
      const actual = Buffer.from(given.toLowerCase())
      return actual.length === expected.length && timingSafeEqual(actual, expected) ? Number(id) : null
    },
  }
}
