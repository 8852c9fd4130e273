import { normalizeAddress } from '../lib/email-address.ts'
import { isCommonPassword } from './common-passwords.ts'

/** Field name → what is wrong with it, in words for the person who typed it. */
export type FieldErrors = Partial<Record<string, string>>

export type Validated<T> = { ok: true; value: T } | { ok: false; fields: FieldErrors }

const USERNAME = /^[A-Za-z][A-Za-z0-9_.-]{2,31}$/

export function checkEmail(input: unknown, errors: FieldErrors, field = 'email'): string {
  if (input !== undefined && typeof input !== 'string') {
    errors[field] = 'Enter an email address as text.'
    return ''
  }
  const result = normalizeAddress(input)
  if (!result.ok) errors[field] = result.message
  return result.ok ? result.address : ''
}

export function checkUsername(input: unknown, errors: FieldErrors): string {
  if (typeof input !== 'string' || input.trim() === '') {
    errors.username = 'Choose a username.'
    return ''
  }
  if (!USERNAME.test(input)) {
    errors.username = 'A username is 3 to 32 characters: letters, digits, _ . and -, starting with a letter.'
    return ''
  }
  return input
}

export function checkPassword(input: unknown, errors: FieldErrors, field = 'password'): string {
  if (typeof input !== 'string' || input === '') {
    errors[field] = 'Enter a password.'
    return ''
  }
  const length = [...input].length
  if (input.includes('\0')) errors[field] = 'A password cannot contain NUL characters.'
  else if (length < 8) errors[field] = 'Use at least 8 characters.'
  else if (length > 128) errors[field] = 'Use at most 128 characters.'
  else if (isCommonPassword(input)) {
    errors[field] = 'This password is too common: it appears in lists of leaked passwords. Choose another.'
  }
  return input
}

/** Runs the checks; ok only when none of them found a problem. */
export function validate<T>(check: (errors: FieldErrors) => T): Validated<T> {
  const errors: FieldErrors = {}
  const value = check(errors)
  return Object.keys(errors).length === 0 ? { ok: true, value } : { ok: false, fields: errors }
}
