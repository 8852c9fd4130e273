import { hostname, userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { duration } from '../../config/parsers.ts'
import { transaction } from '../../db/index.ts'
import { formatDuration } from '../../lib/duration.ts'
import { normalizeAddress } from '../../lib/email-address.ts'
import { isMailState, MAIL_STATES, mailOperations, NOTHING_CHANGED, type OutboxRow, outboxFromConfig } from '../../mail/index.ts'
import { fail, openContext } from '../context.ts'
import { mailDoctorCommand } from './mail-doctor.ts'

const USAGE = `usage: ragtime mail status [--json]
       ragtime mail list [--state S] [--limit N] [--json]
       ragtime mail retry <id> | --dead
       ragtime mail cancel <id>
       ragtime mail unsuppress <address>
       ragtime mail purge [--older-than 30d]
       ragtime mail send-test <address>
       ragtime mail doctor [--json]`

/** Who the audit log names for actions taken here. */
const CLI_ACTOR = `cli:${safeUser()}@${hostname()}`

/** `ragtime mail …`: look at the outbox and act on it; works without an SMTP server. */
export async function mailCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  if (sub === 'doctor') return mailDoctorCommand(rest)
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      dead: { type: 'boolean' },
      'older-than': { type: 'string' },
    },
  })
  const { config, db } = await openContext({ migrate: true })
  const outbox = outboxFromConfig(config, db)
  const operations = mailOperations(db, outbox)
  const messageId = (what: string) => {
    const id = Number(positionals[0])
    if (!Number.isInteger(id) || id < 1) fail(`${what} needs a message id`, 2)
    return id
  }
  const out = (line: string) => process.stdout.write(`${line}\n`)
  try {
    switch (sub) {
      case 'status': {
        const o = await operations.overview({ rows: 0, suppressions: 0, audit: 0 })
        const lastHour = { sent: o.sentLastHour, failed: o.failedLastHour }
        if (values.json) {
          out(JSON.stringify({ counts: o.counts, queueDepth: o.queueDepth, oldestWaitingMs: o.oldestWaitingMs, lastHour, suppressed: o.suppressionCount }))
          break
        }
        for (const state of MAIL_STATES) out(`${state.padEnd(11)} ${o.counts[state]}`)
        out(`queue depth: ${o.queueDepth}`)
        out(`oldest waiting: ${o.oldestWaitingMs === null ? 'none' : formatDuration(o.oldestWaitingMs)}`)
        out(`last hour: ${lastHour.sent} sent, ${lastHour.failed} failed attempts`)
        out(`suppressed addresses: ${o.suppressionCount}`)
        break
      }
      case 'list': {
        if (values.state !== undefined && !isMailState(values.state)) {
          fail(`--state must be one of ${MAIL_STATES.join(', ')}`, 2)
        }
        const limit = values.limit === undefined ? 100 : Number(values.limit)
        if (!Number.isInteger(limit) || limit < 1) fail('--limit must be a positive whole number', 2)
        const rows = await outbox.list({ ...(values.state ? { state: values.state } : {}), limit })
        if (values.json) out(JSON.stringify(rows))
        else for (const row of rows) out(formatRow(row))
        break
      }
      case 'retry': {
        if (values.dead) {
          out(`queued again: ${await operations.perform(CLI_ACTOR, { action: 'retry-dead' })}`)
          break
        }
        const id = messageId('retry (or --dead)')
        if ((await operations.perform(CLI_ACTOR, { action: 'retry', id })) === 0) {
          fail(`message ${id} was not retried: ${NOTHING_CHANGED.retry} (see: ragtime mail list)`)
        }
        out(`queued again: ${id}`)
        break
      }
      case 'cancel': {
        const id = messageId('cancel')
        if ((await operations.perform(CLI_ACTOR, { action: 'cancel', id })) === 0) {
          fail(`message ${id} was not cancelled: ${NOTHING_CHANGED.cancel} (see: ragtime mail list)`)
        }
        out(`cancelled: ${id}`)
        break
      }
      case 'unsuppress': {
        const address = positionals[0]
        if (!address?.includes('@')) fail('unsuppress needs an address', 2)
        if ((await operations.perform(CLI_ACTOR, { action: 'unsuppress', address })) === 0) {
          fail(`${address} was not removed: ${NOTHING_CHANGED.unsuppress}`)
        }
        out(`removed from the suppression list: ${address}`)
        break
      }
      case 'purge': {
        const age = values['older-than'] === undefined ? { success: true as const, data: config.delivery.retentionMs } : duration.safeParse(values['older-than'])
        if (!age.success) fail('--older-than must be a duration such as 30d or 12h', 2)
        const purged = await operations.purgeExpired(CLI_ACTOR, age.data)
        out(`purged the stored message of ${purged} sent ${purged === 1 ? 'email' : 'emails'} older than ${formatDuration(age.data)}`)
        // And, as every worker does every few minutes, that of finished mail past its body expiry.
        const expired = await operations.purgeExpiredBodies(CLI_ACTOR)
        out(`purged the stored message of ${expired} finished ${expired === 1 ? 'email' : 'emails'} past their expiry`)
        break
      }
      case 'send-test': {
        const address = normalizeAddress(positionals[0])
        if (!address.ok) fail(`send-test needs an address: ${address.message}`, 2)
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
        break
      }
      default:
        fail(USAGE, 2)
    }
  } finally {
    await db.close()
  }
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
