import { bouncesCommand } from './commands/bounces.ts'
import { mailCommand } from './commands/mail.ts'
import { migrateCommand } from './commands/migrate.ts'
import { serveCommand } from './commands/serve.ts'
import { workerCommand } from './commands/worker.ts'
import { fail } from './context.ts'

const USAGE = `usage: ragtime <command>

  serve [--no-worker]   migrate, then deliver mail in this process
  worker [--metrics-port N]   deliver mail only (scale-out)
  bounces [--port N]    receive bounces and complaints by SMTP (RAGTIME_BOUNCE_ADDRESS)
  migrate               apply database migrations
  mail status [--json]  counts by state, queue depth, oldest waiting, last hour
  mail list [--state S] [--json]
  mail retry <id> | --dead
  mail cancel <id>
  mail unsuppress <address>
  mail purge [--older-than 30d]   drop the stored message of old sent mail
  mail send-test <address>
  mail doctor [--json]  check SPF, DKIM, DMARC, the relay's TLS and bounce MX`

const [command, ...args] = process.argv.slice(2)

try {
  switch (command) {
    case 'serve':
      await serveCommand(args)
      break
    case 'worker':
      await workerCommand(args)
      break
    case 'bounces':
      await bouncesCommand(args)
      break
    case 'migrate':
      await migrateCommand()
      break
    case 'mail':
      await mailCommand(args)
      break
    default:
      fail(USAGE, command === undefined || command === 'help' || command === '--help' ? 0 : 2)
  }
} catch (err) {
  // A bad option is a usage error (2); anything else is unexpected (1). No stack trace either way.
  const usage = String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
  fail(err instanceof Error ? err.message : String(err), usage ? 2 : 1)
}
