import { parseArgs, type ParseArgsConfig } from 'node:util'

export type Options = NonNullable<ParseArgsConfig['options']>

const HELP = { help: { type: 'boolean', short: 'h' } } as const

/** A command as it is typed after `ragtime`, with its help text and its options. */
export interface CommandSpec<O extends Options> {
  /** `serve`, `mail retry`. */
  readonly name: string
  /**
   * The whole `--help` text: the `usage:` lines first (repeated after a usage error), then what
   * it does, its options (`-h, --help` among them) and an example.
   */
  readonly usage: string
  readonly options: O
  /** The most positional arguments it takes (default none). */
  readonly positionals?: number
}

/** Keeps a spec's literal option types, so the values a command receives are typed by them. */
export function defineCommand<const O extends Options>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec
}

/** What a command receives: its parsed options and positional arguments. */
export type Parsed<S> = S extends CommandSpec<infer O> ? NonNullable<ReturnType<typeof parseCommand<O>>> : never

/**
 * Parses a command's arguments with node:util `parseArgs` (strict). With `-h` or `--help` it
 * prints the usage on stdout and returns undefined: the command then does nothing else. A usage
 * error (an unknown option, a missing value, an extra argument) ends the process with status 2.
 *
 * ```ts
 * const parsed = parseCommand(args, WORKER) // a spec from src/cli/specs.ts
 * if (!parsed) return
 * ```
 */
export function parseCommand<O extends Options>(args: string[], spec: CommandSpec<O>) {
  let parsed
  try {
    parsed = parseArgs({ args, options: { ...spec.options, ...HELP }, allowPositionals: true, strict: true })
  } catch (err) {
    if (!String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw err
    // Node's first sentence ("Unknown option '--x'"), without its advice about `--`.
    usageError(spec, (err as Error).message.split(/\.\s/)[0] ?? String(err))
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${spec.usage}\n`)
    return undefined
  }
  const extra = parsed.positionals.slice(spec.positionals ?? 0)
  if (extra.length > 0) usageError(spec, `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `'${a}'`).join(' ')}`)
  return parsed
}

/** Ends the process with status 2: what was wrong, the command's `usage:` lines, and where the rest is. */
export function usageError(spec: Pick<CommandSpec<Options>, 'name' | 'usage'>, message: string): never {
  const synopsis = spec.usage.split('\n\n')[0]
  process.stderr.write(`ragtime ${spec.name}: ${message}\n${synopsis}\n(ragtime ${spec.name} --help shows its options and an example)\n`)
  process.exit(2)
}
