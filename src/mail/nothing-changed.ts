import type { MailAction } from '@ragtime/outbox'

/**
 * Why an operator's action on one message or address changed nothing (MailOperations.perform
 * answered 0), in the words the dashboard and `ragtime mail` use.
 */
export const NOTHING_CHANGED: Readonly<Record<Exclude<MailAction['action'], 'retry-dead'>, string>> = Object.freeze({
  retry:
    'it is not dead, retrying, cancelled or suppressed, its address is on the suppression list, a newer copy is live, or its stored message was purged',
  cancel: 'it is not queued or retrying',
  unsuppress: 'the address is not on the suppression list',
})
