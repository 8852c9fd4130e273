import { fail } from './context.ts'

const USAGE = `usage: ragtime <command> [options]
       ragtime <command> --help

Commands:
  serve [--no-worker]            migrate, then run the web app and deliver mail in this process
  worker [--metrics-port N]      deliver mail only (scale-out)
  bounces [--port N]             receive bounces and complaints by SMTP (RAGTIME_BOUNCE_ADDRESS)
  migrate                        apply database migrations
  mail status [--json]           counts by state, queue depth, oldest waiting, last hour
  mail list [--state S] [--limit N] [--json]
  mail retry <id> | --dead       queue failed mail again
  mail cancel <id>               withdraw mail not sent yet
  mail unsuppress <address>      take an address off the suppression list
  mail purge [--older-than 30d]  drop the stored message of old sent mail
  mail send-test <address>       queue a test email
  mail doctor [--json]           check SPF, DKIM, DMARC, the relay's TLS and bounce MX

Every command and subcommand answers -h and --help with its options and an example.
Configuration comes from environment variables (README.md, "Configuration").

Example:
  ragtime serve`

/**
 * Each command takes the arguments after its name, and answers `--help` itself. Loaded when run:
 * `ragtime -h` or a typo need not load the whole app.
 */
const COMMANDS: Readonly<Record<string, (args: string[]) => Promise<void>>> = {
  serve: async (args) => (await import('./commands/serve.ts')).serveCommand(args),
  worker: async (args) => (await import('./commands/worker.ts')).workerCommand(args),
  bounces: async (args) => (await import('./commands/bounces.ts')).bouncesCommand(args),
  migrate: async (args) => (await import('./commands/migrate.ts')).migrateCommand(args),
  mail: async (args) => (await import('./commands/mail.ts')).mailCommand(args),
}

const [command, ...args] = process.argv.slice(2)

try {
  const run = command === undefined ? undefined : Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (run) {
    await run(args)
  } else if (command === undefined || command === '-h' || command === '--help' || (command === 'help' && args.length === 0)) {
    process.stdout.write(`${USAGE}\n`)
  } else if (command === 'help' && args[0] && Object.hasOwn(COMMANDS, args[0])) {
    // `ragtime help mail retry` is `ragtime mail retry --help`.
    await COMMANDS[args[0]]?.([...args.slice(1), '--help'])
  } else {
    fail(`unknown command '${command === 'help' ? args[0] : command}'\n\n${USAGE}`, 2)
  }
} catch (err) {
  // Anything unexpected: one line (1), no stack trace.
  fail(err instanceof Error ? err.message : String(err), 1)
}
