import { hostname, userInfo } from 'node:os'
import type { ConfigNeeds } from '../../config/index.ts'
import { duration } from '../../config/parsers.ts'
import { transaction } from '../../db/index.ts'
import { formatDuration } from '@ragtime/outbox/lite'
import { normalizeAddress } from '../../lib/email-address.ts'
import {
  isMailState,
  MAIL_STATES,
  type MailOperations,
  mailOperations,
  NOTHING_CHANGED,
  type Outbox,
  type OutboxRow,
  outboxFromConfig,
} from '../../mail/index.ts'
import { type Parsed, usageError } from '../args.ts'
import { type CommandContext, openContext } from '../context.ts'
import { fail } from '../fail.ts'
import { MAIL_CANCEL, MAIL_LIST, MAIL_PURGE, MAIL_RETRY, MAIL_SEND_TEST, type MAIL_STATUS, MAIL_UNSUPPRESS } from '../specs.ts'

/** Who the audit log names for actions taken here. */
const CLI_ACTOR = `cli:${safeUser()}@${hostname()}`

export async function mailStatus(parsed: Parsed<typeof MAIL_STATUS>): Promise<void> {
  await withOutbox({}, async ({ operations }) => {
    const o = await operations.overview({ rows: 0, suppressions: 0, audit: 0 })
    const lastHour = { sent: o.sentLastHour, failed: o.failedLastHour }
    if (parsed.values.json) {
      out(JSON.stringify({ counts: o.counts, queueDepth: o.queueDepth, oldestWaitingMs: o.oldestWaitingMs, lastHour, suppressed: o.suppressionCount }))
      return
    }
    for (const state of MAIL_STATES) out(`${state.padEnd(11)} ${o.counts[state]}`)
    out(`queue depth: ${o.queueDepth}`)
    out(`oldest waiting: ${o.oldestWaitingMs === null ? 'none' : formatDuration(o.oldestWaitingMs)}`)
    out(`last hour: ${lastHour.sent} sent, ${lastHour.failed} failed attempts`)
    out(`suppressed addresses: ${o.suppressionCount}`)
  })
}


export async function mailList(parsed: Parsed<typeof MAIL_LIST>): Promise<void> {
  const spec = MAIL_LIST
  const { state, json } = parsed.values
  if (state !== undefined && !isMailState(state)) usageError(spec, `--state must be one of ${MAIL_STATES.join(', ')}`)
  const limit = parsed.values.limit === undefined ? 100 : Number(parsed.values.limit)
  if (!Number.isInteger(limit) || limit < 1) usageError(spec, '--limit must be a positive whole number')
  await withOutbox({}, async ({ outbox }) => {
    const rows = await outbox.list({ ...(state ? { state } : {}), limit })
    if (json) out(JSON.stringify(rows))
    else for (const row of rows) out(formatRow(row))
  })
}


export async function mailRetry(parsed: Parsed<typeof MAIL_RETRY>): Promise<void> {
  const spec = MAIL_RETRY
  if (parsed.values.dead) {
    if (parsed.positionals.length > 0) usageError(spec, 'give a message id or --dead, not both')
    await withOutbox({}, async ({ operations }) => out(`queued again: ${await operations.perform(CLI_ACTOR, { action: 'retry-dead' })}`))
    return
  }
  const id = messageId(spec, parsed.positionals[0], 'a message id (or --dead)')
  await withOutbox({}, async ({ outbox, operations }) => {
    if (!(await outbox.get(id))) fail(`no message ${id} (see: ragtime mail list)`)
    if ((await operations.perform(CLI_ACTOR, { action: 'retry', id })) === 0) {
      fail(`message ${id} was not retried: ${NOTHING_CHANGED.retry} (see: ragtime mail list)`)
    }
    out(`queued again: ${id}`)
  })
}


export async function mailCancel(parsed: Parsed<typeof MAIL_CANCEL>): Promise<void> {
  const spec = MAIL_CANCEL
  const id = messageId(spec, parsed.positionals[0], 'a message id')
  await withOutbox({}, async ({ outbox, operations }) => {
    if (!(await outbox.get(id))) fail(`no message ${id} (see: ragtime mail list)`)
    if ((await operations.perform(CLI_ACTOR, { action: 'cancel', id })) === 0) {
      fail(`message ${id} was not cancelled: ${NOTHING_CHANGED.cancel} (see: ragtime mail list)`)
    }
    out(`cancelled: ${id}`)
  })
}


export async function mailUnsuppress(parsed: Parsed<typeof MAIL_UNSUPPRESS>): Promise<void> {
  const spec = MAIL_UNSUPPRESS
  const address = parsed.positionals[0]
  if (!address?.includes('@')) usageError(spec, 'needs an address')
  await withOutbox({}, async ({ operations }) => {
    if ((await operations.perform(CLI_ACTOR, { action: 'unsuppress', address })) === 0) {
      fail(`${address} was not removed: ${NOTHING_CHANGED.unsuppress}`)
    }
    out(`removed from the suppression list: ${address}`)
  })
}


export async function mailPurge(parsed: Parsed<typeof MAIL_PURGE>): Promise<void> {
  const spec = MAIL_PURGE
  const olderThan = parsed.values['older-than']
  const age = olderThan === undefined ? undefined : duration.safeParse(olderThan)
  if (age && !age.success) usageError(spec, '--older-than must be a duration such as 30d or 12h')
  await withOutbox({}, async ({ config, operations }) => {
    const ms = age?.data ?? config.delivery.retentionMs
    const purged = await operations.purgeExpired(CLI_ACTOR, ms)
    out(`purged the stored message of ${purged} sent ${purged === 1 ? 'email' : 'emails'} older than ${formatDuration(ms)}`)
    // And, as every worker does every few minutes, that of finished mail past its body expiry.
    const expired = await operations.purgeExpiredBodies(CLI_ACTOR)
    out(`purged the stored message of ${expired} finished ${expired === 1 ? 'email' : 'emails'} past their expiry`)
  })
}


export async function mailSendTest(parsed: Parsed<typeof MAIL_SEND_TEST>): Promise<void> {
  const spec = MAIL_SEND_TEST
  const address = normalizeAddress(parsed.positionals[0])
  if (!address.ok) usageError(spec, `needs an address: ${address.message}`)
  await withOutbox({ baseUrl: true }, async ({ config, db, outbox }) => {
    const id = await transaction(db.kysely, (trx) =>
      outbox.enqueue(
        trx,
        {
          template: 'system/test',
          to: address.address,
          subject: 'Test email',
          context: { sentAt: new Date().toISOString(), baseUrl: config.baseUrl },
        },
        { priority: 'high' },
      ),
    )
    out(`queued: message ${id} to ${address.address} (a running serve or worker delivers it)`)
  })
}

/** Opens the outbox (migrating first), runs `work`, and closes the database. */
async function withOutbox(
  needs: ConfigNeeds,
  work: (context: CommandContext & { outbox: Outbox; operations: MailOperations }) => Promise<void>,
): Promise<void> {
  const context = await openContext({ migrate: true, needs })
  const outbox = outboxFromConfig(context.config, context.db)
  try {
    await work({ ...context, outbox, operations: mailOperations(outbox) })
  } finally {
    await context.db.close()
  }
}

/** A message id from the command line: a whole number from 1 (else a usage error). */
function messageId(spec: { name: string; usage: string }, value: string | undefined, what: string): number {
  if (value === undefined) usageError(spec, `needs ${what}`)
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    usageError(spec, `a message id is a whole number from 1 (got '${value}')`)
  }
  return Number(value)
}

function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

function formatRow(row: OutboxRow): string {
  const error = row.lastError ? `  ${row.lastError}` : ''
  return `${row.id}\t${row.state}\t${row.recipient}\t${row.subject}\tattempts=${row.attempts}${error}`
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}
