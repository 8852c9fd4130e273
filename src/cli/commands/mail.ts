import { parseArgs } from 'node:util'
import { transaction } from '../../db/index.ts'
import { normalizeAddress } from '../../lib/email-address.ts'
import { isMailState, MAIL_STATES, type OutboxRow, outboxFromConfig } from '../../mail/index.ts'
import { fail, openContext } from '../context.ts'

const USAGE = `usage: ragtime mail status
       ragtime mail list [--state S] [--limit N] [--json]
       ragtime mail retry <id> | --dead
       ragtime mail send-test <address>`

/** `ragtime mail …`: look at the outbox and act on it; works without an SMTP server. */
export async function mailCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      dead: { type: 'boolean' },
    },
  })
  const { config, db } = await openContext({ migrate: true })
  const outbox = outboxFromConfig(config, db)
  const out = (line: string) => process.stdout.write(`${line}\n`)
  try {
    switch (sub) {
      case 'status': {
        const { counts, oldestWaitingMs } = await outbox.status()
        for (const state of MAIL_STATES) out(`${state.padEnd(11)} ${counts[state]}`)
        out(`oldest waiting: ${oldestWaitingMs === null ? 'none' : formatAge(oldestWaitingMs)}`)
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
          out(`queued again: ${await outbox.retryDead()}`)
          break
        }
        const id = Number(positionals[0])
        if (!Number.isInteger(id) || id < 1) fail('retry needs a message id or --dead', 2)
        const n = await outbox.retry(id)
        if (n === 0) fail(`message ${id} is not dead, retrying or cancelled (see: ragtime mail list)`)
        out(`queued again: ${id}`)
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

function formatAge(ms: number): string {
  if (ms < 1_000) return `${ms} ms`
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}
