import { createRequire } from 'node:module'
import type { dictionary } from '@zxcvbn-ts/language-common'

/** Only these lengths can reach the check: shorter and longer passwords are refused before it. */
const MIN_LENGTH = 8
const MAX_LENGTH = 128

let common: ReadonlySet<string> | undefined

/** The form both the list and a candidate are compared in: NFC, lower case. */
function fold(password: string): string {
  return password.normalize('NFC').toLowerCase()
}

/**
 * The most common leaked passwords, from zxcvbn-ts's `passwords-common` list (@zxcvbn-ts/language-common:
 * about 49,000 entries, offline). Loaded on first use, not at start-up; only the entries a
 * password of 8–128 characters can equal are kept (about 18,000).
 */
function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    // A synchronous, lazy load: validation stays synchronous and start-up does not pay for it.
    const require = createRequire(import.meta.url)
    const language = require('@zxcvbn-ts/language-common') as { dictionary: typeof dictionary }
    const set = new Set<string>()
    for (const entry of language.dictionary['passwords-common']) {
      const length = [...entry].length
      if (length >= MIN_LENGTH && length <= MAX_LENGTH) set.add(fold(entry))
    }
    common = set
  }
  return common
}

/** True when the password (NFC, any case) is in the list of common leaked passwords. */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(fold(password))
}

/** Loads the list now (for a server that would rather pay for it before the first sign-up). */
export function loadCommonPasswords(): number {
  return commonPasswords().size
}
