/**
 * Every `error.code` the web app answers with, in `{ "error": { "code", "message", "fields"? } }`,
 * and what it means: one catalog, so that a new code is a decision here, not a string in a route.
 * docs/errors.md lists each (test/web/error-codes.test.ts holds the two together).
 */
export const ERROR_CODES = {
  // Requests the app cannot read.
  bad_request: 'The request is malformed: an unreadable URL, a bad length, an empty or invalid JSON body.',
  unsupported_media_type: 'The body is neither a form (application/x-www-form-urlencoded) nor JSON.',
  body_too_large: 'The body is larger than the form or webhook accepts.',
  not_found: 'No such page, message, template, or webhook provider (a provider without a secret configured).',
  internal_error: 'Something failed on our side; logged with the request. Never carries details.',
  // Who may ask.
  bad_origin: 'A form or JSON request from another site (Origin or Referer not ours).',
  bad_csrf_token: 'A form without the token of this session, or with a stale one.',
  not_logged_in: 'The page needs a logged-in user.',
  unconfirmed: 'The page needs a confirmed address.',
  forbidden: 'Only the administrator (RAGTIME_ADMIN) may see this.',
  unauthorized: 'GET /metrics without the metrics token.',
  rate_limited: 'Too many requests of this kind from this address or for this account; Retry-After says when to try again.',
  mail_budget: 'This account has asked for all the emails it may in this period (confirmation or reset links).',
  // What was sent.
  invalid_input: 'A field is missing or not valid; `fields` says which, and why.',
  invalid_credentials: 'The address or password is wrong (the same answer for an address with no account).',
  wrong_password: 'The current password given to confirm a change is wrong.',
  username_taken: 'Another account has this username.',
  address_taken: 'Another account has this address.',
  already_confirmed: 'The address is confirmed already.',
  invalid_token: 'The link is not one of ours, or was used or replaced.',
  expired_token: 'The link has expired: ask for a new one.',
  // The mail dashboard.
  invalid_target: 'The dashboard action names no message or address it can act on.',
  not_applicable: 'The action changes nothing for this message or address (it is not dead, not queued…).',
  // Mail providers' webhooks.
  bad_signature: 'The webhook request is not signed by the provider with our secret.',
  stale_webhook: 'The signed webhook request is older than the provider’s window (a replay).',
  replayed_webhook: 'This signed webhook request was received already.',
  bad_payload: 'The webhook body is empty or not what the provider sends.',
} as const

export type ErrorCode = keyof typeof ERROR_CODES
