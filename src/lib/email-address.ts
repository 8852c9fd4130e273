import { type AddressProblem, normalizeAddress as normalize } from '@ragtime/outbox/lite'

export { type AddressProblem, addressKey, type Mailbox, parseMailbox } from '@ragtime/outbox/lite'

export type AddressResult = { ok: true; address: string } | { ok: false; problem: AddressProblem; message: string }

/** Why an address was refused, in words a user can act on. */
const MESSAGES: Record<AddressProblem, string> = {
  missing: 'Enter an email address.',
  'too-long': 'An email address can be at most 254 characters long.',
  'local-too-long': 'The part before the @ can be at most 64 characters long.',
  'control-characters': 'An email address cannot contain line breaks or control characters.',
  malformed: 'Enter an address of the form name@example.com.',
  'local-not-ascii': 'The part before the @ must use plain letters, digits and . _ + - only.',
  'bad-domain': 'The part after the @ is not a valid domain name.',
}

/**
 * Validates an address by syntax only (see the outbox's `normalizeAddress`), and says what is
 * wrong in words for the person who typed it.
 */
export function normalizeAddress(input: unknown, options?: { singleLabelDomain?: boolean }): AddressResult {
  const result = normalize(input, options)
  return result.ok ? result : { ...result, message: MESSAGES[result.problem] }
}
