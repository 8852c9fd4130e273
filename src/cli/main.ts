import { type CommandSpec, type Options, type Parsed, parseCommand } from './args.ts'
import { fail } from './fail.ts'
import { sizeHeap } from './heap.ts'
import * as specs from './specs.ts'

/**
 * A command: its arguments are parsed (and --help answered) with its spec; its module is loaded
 * only then. A command that keeps running (`longRunning`) gets the heap RAGTIME_HEAP asks for first.
 */
function command<S extends CommandSpec<Options>>(spec: S, load: () => Promise<(parsed: Parsed<S>) => Promise<void>>, { longRunning = false } = {}) {
  return async (args: string[]): Promise<void> => {
    const parsed = parseCommand(args, spec)
    if (!parsed) return
    if (longRunning) sizeHeap()
    await (await load())(parsed as Parsed<S>)
  }
}

/** Every command, by what is typed after `ragtime`. */
const COMMANDS: Readonly<Record<string, (args: string[]) => Promise<void>>> = {
  serve: command(specs.SERVE, async () => (await import('./commands/serve.ts')).serve, { longRunning: true }),
  worker: command(specs.WORKER, async () => (await import('./commands/worker.ts')).worker, { longRunning: true }),
  bounces: command(specs.BOUNCES, async () => (await import('./commands/bounces.ts')).bounces, { longRunning: true }),
  migrate: command(specs.MIGRATE, async () => (await import('./commands/migrate.ts')).migrate),
  'mail status': command(specs.MAIL_STATUS, async () => (await import('./commands/mail.ts')).mailStatus),
  'mail list': command(specs.MAIL_LIST, async () => (await import('./commands/mail.ts')).mailList),
  'mail retry': command(specs.MAIL_RETRY, async () => (await import('./commands/mail.ts')).mailRetry),
  'mail cancel': command(specs.MAIL_CANCEL, async () => (await import('./commands/mail.ts')).mailCancel),
  'mail unsuppress': command(specs.MAIL_UNSUPPRESS, async () => (await import('./commands/mail.ts')).mailUnsuppress),
  'mail purge': command(specs.MAIL_PURGE, async () => (await import('./commands/mail.ts')).mailPurge),
  'mail send-test': command(specs.MAIL_SEND_TEST, async () => (await import('./commands/mail.ts')).mailSendTest),
  'mail doctor': command(specs.MAIL_DOCTOR, async () => (await import('./commands/mail-doctor.ts')).doctor),
}

/** Runs `ragtime <words> <args>`; `ragtime help <words>` is `ragtime <words> --help`. */
async function main(argv: string[]): Promise<void> {
  const help = argv[0] === 'help'
  const words = help ? argv.slice(1) : argv
  const [first, second] = words
  const name = first === 'mail' && second !== undefined && !second.startsWith('-') ? `mail ${second}` : first
  const found = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (found) {
    // `mail retry` typed as two words, or (quoted) as one.
    const rest = words.slice(name === first ? 1 : 2)
    await found(help ? [...rest, '--help'] : rest)
  } else if (first === undefined || first === '-h' || first === '--help') {
    process.stdout.write(`${specs.USAGE}\n`)
  } else if (first === 'mail' && (second === undefined || second === '-h' || second === '--help')) {
    process.stdout.write(`${specs.MAIL_USAGE}\n`)
  } else if (first === 'mail') {
    fail(`unknown mail subcommand '${second}'\n\n${specs.MAIL_USAGE}`, 2)
  } else {
    fail(`unknown command '${first}'\n\n${specs.USAGE}`, 2)
  }
}

try {
  await main(process.argv.slice(2))
} catch (err) {
  // Anything unexpected: one line (1), no stack trace.
  fail(err instanceof Error ? err.message : String(err), 1)
}
