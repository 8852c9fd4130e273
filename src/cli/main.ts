import { mailCommand } from './commands/mail.ts'
import { migrateCommand } from './commands/migrate.ts'
import { serveCommand } from './commands/serve.ts'
import { workerCommand } from './commands/worker.ts'
import { fail } from './context.ts'

const USAGE = `usage: ragtime <command>

  serve [--no-worker]   migrate, then deliver mail in this process
  worker                deliver mail only (scale-out)
  migrate               apply database migrations
  mail status           counts by state, oldest waiting message
  mail list [--state S] [--json]
  mail retry <id> | --dead
  mail send-test <address>`

const [command, ...args] = process.argv.slice(2)

try {
  switch (command) {
    case 'serve':
      await serveCommand(args)
      break
    case 'worker':
      await workerCommand()
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
  // Unexpected: say what happened without a stack trace unless asked for one.
  fail(err instanceof Error ? err.message : String(err))
}
