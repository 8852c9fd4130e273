import { hostname, userInfo } from 'node:os'
import type { ConfigNeeds } from '../../config/index.ts'
import { duration } from '../../config/parsers.ts'
import { transaction } from '../../db/index.ts'
import { formatDuration } from '../../lib/duration.ts'
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
import { parseCommand, usageError } from '../args.ts'
import { type CommandContext, fail, openContext } from '../context.ts'
import { mailDoctorCommand } from './mail-doctor.ts'

const USAGE = `usage: ragtime mail <subcommand> [options]

Looks at the outbox and acts on it. Works without an SMTP server, in production too; every
action is recorded in the audit log with who ran it.

Subcommands:
  status [--json]                        counts by state, queue depth, oldest waiting, last hour
  list [--state S] [--limit N] [--json]  one line per message
  retry <id> | --dead                    queue failed mail again
  cancel <id>                            withdraw mail not sent yet
  unsuppress <address>                   take an address off the suppression list
  purge [--older-than 30d]               drop the stored message of old sent mail
  send-test <address>                    queue a test email
  doctor [--json]                        check SPF, DKIM, DMARC, the relay's TLS and bounce MX

Each answers -h and --help with its options and an example.

Example:
  ragtime mail list --state dead`

/** Who the audit log names for actions taken here. */
const CLI_ACTOR = `cli:${safeUser()}@${hostname()}`

const SUBCOMMANDS: Readonly<Record<string, (args: string[]) => Promise<void>>> = {
  status: mailStatus,
  list: mailList,
  retry: mailRetry,
  cancel: mailCancel,
  unsuppress: mailUnsuppress,
  purge: mailPurge,
  'send-test': mailSendTest,
  doctor: mailDoctorCommand,
}

/** `ragtime mail …`: look at the outbox and act on it; works without an SMTP server. */
export async function mailCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const run = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined
  if (run) return run(rest)
  if (sub === undefined || sub === '-h' || sub === '--help') process.stdout.write(`${USAGE}\n`)
  else fail(`unknown mail subcommand '${sub}'\n\n${USAGE}`, 2)
}

const STATUS_USAGE = `usage: ragtime mail status [--json]

Counts of messages in each state, the queue depth (queued, sending, retrying), how long the
oldest waiting message has waited, the last hour's sends and failed attempts, and the number of
suppressed addresses.

Options:
  --json      one JSON object: { counts, queueDepth, oldestWaitingMs, lastHour, suppressed }
  -h, --help  show this help

Example:
  ragtime mail status --json`

async function mailStatus(args: string[]): Promise<void> {
  const parsed = parseCommand(args, { name: 'mail status', usage: STATUS_USAGE, options: { json: { type: 'boolean' } } })
  if (!parsed) return
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

const LIST_USAGE = `usage: ragtime mail list [--state S] [--limit N] [--json]

One line per message, newest first: id, state, recipient, subject, attempts and the last error.

Options:
  --state S   only messages in state S: ${MAIL_STATES.join(', ')}
  --limit N   at most N messages (default 100)
  --json      a JSON array of the messages
  -h, --help  show this help

Example:
  ragtime mail list --state dead --limit 20`

async function mailList(args: string[]): Promise<void> {
  const spec = {
    name: 'mail list',
    usage: LIST_USAGE,
    options: { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
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

const RETRY_USAGE = `usage: ragtime mail retry <id>
       ragtime mail retry --dead

Queues failed mail again, to be sent at once: message <id> (dead, retrying, cancelled or
suppressed), or with --dead every dead message. Not mail to a suppressed address (see
ragtime mail unsuppress), nor mail whose stored message was purged.

Options:
  --dead      every dead message
  -h, --help  show this help

Examples:
  ragtime mail retry 42
  ragtime mail retry --dead`

async function mailRetry(args: string[]): Promise<void> {
  const spec = { name: 'mail retry', usage: RETRY_USAGE, options: { dead: { type: 'boolean' } }, positionals: 1 } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
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

const CANCEL_USAGE = `usage: ragtime mail cancel <id>

Withdraws message <id> while it is queued or retrying: it will not be sent (state cancelled;
ragtime mail retry <id> queues it again).

Options:
  -h, --help  show this help

Example:
  ragtime mail cancel 42`

async function mailCancel(args: string[]): Promise<void> {
  const spec = { name: 'mail cancel', usage: CANCEL_USAGE, options: {}, positionals: 1 } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
  const id = messageId(spec, parsed.positionals[0], 'a message id')
  await withOutbox({}, async ({ outbox, operations }) => {
    if (!(await outbox.get(id))) fail(`no message ${id} (see: ragtime mail list)`)
    if ((await operations.perform(CLI_ACTOR, { action: 'cancel', id })) === 0) {
      fail(`message ${id} was not cancelled: ${NOTHING_CHANGED.cancel} (see: ragtime mail list)`)
    }
    out(`cancelled: ${id}`)
  })
}

const UNSUPPRESS_USAGE = `usage: ragtime mail unsuppress <address>

Takes <address> off the suppression list (where hard bounces and complaints put it), so that
mail to it is sent again. Its earlier mail stays as it is (ragtime mail retry <id> sends one).

Options:
  -h, --help  show this help

Example:
  ragtime mail unsuppress ann@example.com`

async function mailUnsuppress(args: string[]): Promise<void> {
  const spec = { name: 'mail unsuppress', usage: UNSUPPRESS_USAGE, options: {}, positionals: 1 } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
  const address = parsed.positionals[0]
  if (!address?.includes('@')) usageError(spec, 'needs an address')
  await withOutbox({}, async ({ operations }) => {
    if ((await operations.perform(CLI_ACTOR, { action: 'unsuppress', address })) === 0) {
      fail(`${address} was not removed: ${NOTHING_CHANGED.unsuppress}`)
    }
    out(`removed from the suppression list: ${address}`)
  })
}

const PURGE_USAGE = `usage: ragtime mail purge [--older-than 30d]

Drops the stored message (the bytes) of sent mail older than a duration, and of finished mail
past its expiry (as every worker does every few minutes); the rows, their states and the audit
log stay.

Options:
  --older-than D  sent longer ago than D: 30d, 12h, 90m… (default RAGTIME_MAIL_RETENTION, 30d)
  -h, --help      show this help

Example:
  ragtime mail purge --older-than 7d`

async function mailPurge(args: string[]): Promise<void> {
  const spec = { name: 'mail purge', usage: PURGE_USAGE, options: { 'older-than': { type: 'string' } } } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
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

const SEND_TEST_USAGE = `usage: ragtime mail send-test <address>

Queues a test email to <address> and exits: a running ragtime serve or ragtime worker delivers
it (see it with ragtime mail list). From RAGTIME_MAIL_SENDER; in production BASE_URL is required.

Options:
  -h, --help  show this help

Example:
  ragtime mail send-test ann@example.com`

async function mailSendTest(args: string[]): Promise<void> {
  const spec = { name: 'mail send-test', usage: SEND_TEST_USAGE, options: {}, positionals: 1 } as const
  const parsed = parseCommand(args, spec)
  if (!parsed) return
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
    await work({ ...context, outbox, operations: mailOperations(context.db, outbox) })
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
