import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { runRagtime } from '../helpers/cli.ts'

/** Every command and subcommand, with the options its help must list. */
const COMMANDS: readonly { readonly name: string; readonly options: readonly string[] }[] = [
  { name: 'serve', options: ['--no-worker'] },
  { name: 'worker', options: ['--metrics-port'] },
  { name: 'bounces', options: ['--port'] },
  { name: 'migrate', options: [] },
  { name: 'mail status', options: ['--json'] },
  { name: 'mail list', options: ['--state', '--limit', '--json'] },
  { name: 'mail retry', options: ['--dead'] },
  { name: 'mail cancel', options: [] },
  { name: 'mail unsuppress', options: [] },
  { name: 'mail purge', options: ['--older-than'] },
  { name: 'mail send-test', options: [] },
  { name: 'mail doctor', options: ['--json'] },
]

/**
 * Help must not need a working configuration: production without SECRET_KEY (or anything else)
 * fails every command that reads it.
 */
const BROKEN_ENV = { NODE_ENV: 'production', DATABASE_URL: 'sqlite:/nonexistent/ragtime.sqlite' }

/** Runs `work` over `items`, a few processes at a time. */
async function eachConcurrently<T>(items: readonly T[], work: (item: T) => Promise<void>, concurrency = 4): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item)
    }),
  )
}

/** The lines after "Example:" or "Examples:". */
function examples(usage: string): string {
  const match = /\nExamples?:\n((?: {2}.+\n?)+)/.exec(usage)
  assert.ok(match, `an example in:\n${usage}`)
  return match[1] ?? ''
}

describe('ragtime --help', () => {
  test('ragtime, ragtime -h, --help and help: the commands, exit 0', async () => {
    await eachConcurrently([[], ['-h'], ['--help'], ['help']], async (args) => {
      const run = await runRagtime(args, BROKEN_ENV)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stdout, /^usage: ragtime <command>/, args.join(' '))
      for (const { name } of COMMANDS) assert.match(run.stdout, new RegExp(`^ {2}${name}\\b`, 'm'), name)
      assert.match(examples(run.stdout), /ragtime serve/)
    })
  })

  test('every command and subcommand answers -h and --help: its usage, its options, an example; exit 0', async () => {
    const runs = COMMANDS.flatMap((command) => ['-h', '--help'].map((flag) => ({ command, flag })))
    await eachConcurrently(runs, async ({ command, flag }) => {
      const what = `ragtime ${command.name} ${flag}`
      const run = await runRagtime([...command.name.split(' '), flag], BROKEN_ENV)
      assert.equal(run.code, 0, `${what}: ${run.stderr}`)
      assert.ok(run.stdout.startsWith(`usage: ragtime ${command.name}`), `${what}:\n${run.stdout}`)
      assert.match(run.stdout, /^ {2}-h, --help\s/m, what)
      for (const option of command.options) assert.match(run.stdout, new RegExp(`^ {2}${option}\\b`, 'm'), `${what} lists ${option}`)
      assert.match(examples(run.stdout), new RegExp(`ragtime ${command.name}\\b`), what)
    })
  })

  test('ragtime mail, mail -h, mail --help: the subcommands; help <command> is <command> --help', async () => {
    for (const args of [['mail'], ['mail', '-h'], ['mail', '--help']]) {
      const run = await runRagtime(args, BROKEN_ENV)
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^usage: ragtime mail <subcommand>/)
      for (const sub of ['status', 'list', 'retry', 'cancel', 'unsuppress', 'purge', 'send-test', 'doctor']) assert.match(run.stdout, new RegExp(`^ {2}${sub}\\b`, 'm'))
      assert.match(examples(run.stdout), /ragtime mail /)
    }
    const help = await runRagtime(['help', 'mail', 'retry'], BROKEN_ENV)
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /^usage: ragtime mail retry <id>/)
  })
})

describe('usage errors: exit 2, what was wrong and the usage', () => {
  test('an unknown option, for every command and subcommand', async () => {
    await eachConcurrently(COMMANDS, async ({ name }) => {
      const run = await runRagtime([...name.split(' '), '--bogus'], BROKEN_ENV)
      assert.equal(run.code, 2, `${name}: ${run.stderr}`)
      assert.match(run.stderr, new RegExp(`^ragtime ${name}: Unknown option '--bogus'$`, 'm'), name)
      assert.match(run.stderr, new RegExp(`^usage: ragtime ${name}\\b`, 'm'), name)
      assert.match(run.stderr, new RegExp(`ragtime ${name} --help shows its options and an example`), name)
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
    })
  })

  test('an unknown command or subcommand, an extra argument, a bad value', async () => {
    const unknown = await runRagtime(['frobnicate'], BROKEN_ENV)
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /^ragtime: unknown command 'frobnicate'\n\nusage: ragtime <command>/m)
    const sub = await runRagtime(['mail', 'frobnicate'], BROKEN_ENV)
    assert.equal(sub.code, 2)
    assert.match(sub.stderr, /^ragtime: unknown mail subcommand 'frobnicate'\n\nusage: ragtime mail <subcommand>/m)
    const extra = await runRagtime(['serve', 'now'], BROKEN_ENV)
    assert.equal(extra.code, 2)
    assert.match(extra.stderr, /^ragtime serve: unexpected argument 'now'\nusage: ragtime serve \[--no-worker\]/m)
    const both = await runRagtime(['mail', 'retry', '7', '--dead'], BROKEN_ENV)
    assert.equal(both.code, 2)
    assert.match(both.stderr, /^ragtime mail retry: give a message id or --dead, not both\nusage: ragtime mail retry <id>/m)
    const id = await runRagtime(['mail', 'cancel', '1.5'], BROKEN_ENV)
    assert.equal(id.code, 2)
    assert.match(id.stderr, /^ragtime mail cancel: a message id is a whole number from 1 \(got '1\.5'\)/m)
  })
})
