// Runs every test/**/*.test.ts under node:test, or the files given as arguments:
// on SQLite and on PostgreSQL (each test in a schema of its own) when a server answers at
// TEST_DATABASE_URL (default: the local one). RAGTIME_TEST_DB=sqlite|postgres runs one pass
// only. RAGTIME_REQUIRE_POSTGRES=1 (CI) makes a missing server a failure instead of a skip.
//
// The sources and tests are compiled to dist/ first (tsconfig.test.json: emit only, a few
// seconds), so that each test file's process starts on JavaScript: through tsx, every file paid
// about 1.3 s of CPU to load it. One queue for both passes: each test file on each database is a
// job, a process of its own (`node --enable-source-maps --test-reporter=spec dist/test/<file>.js`,
// its stack traces pointing at the .ts lines), and RAGTIME_TEST_CONCURRENCY jobs run at once
// (default FILES_AT_ONCE below), slowest first, so that neither pass idles while the other still
// has files; the few that mostly wait on the clock (WAITING) run in one more slot beside them,
// which then takes the others' remaining files.
// Files can run side by side because each test has a database of its own (a temporary SQLite
// file, a PostgreSQL schema), listens on ports the system picks, and writes nothing outside its
// temporary folders. A file's report is printed whole when it ends, each line after the name
// of its pass; the failures are listed again at the very end. Files on DATABASE_FREE below run on
// the SQLite pass only.
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { clearTimeout, setTimeout } from 'node:timers'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'

/**
 * Test files running at once, over both passes. The suite is CPU-bound on a 2-core machine (many
 * files start servers, workers and Chromium): eight files at once drove the load average to 16
 * and processes missed their start-up bounds in CI; four at once stretched a 25-second test to
 * 170 seconds. On PostgreSQL the tests in a file run one at a time, each with a pool of at most
 * 10 connections (src/db), one more per running worker's LISTEN; the scale-out test holds more,
 * with five processes of its own: a few files at once stay under the server's 100 connections.
 * More cores: raise RAGTIME_TEST_CONCURRENCY.
 */
const FILES_AT_ONCE = 2

/**
 * Files that spend most of their time waiting on the clock (rates, pauses, cool-downs, a slow
 * server), not on the CPU: they run one after another in a slot of their own, beside the
 * FILES_AT_ONCE others, instead of holding one of those slots while the CPU idles.
 */
const WAITING = ['test/mail/flow-control.test.ts', 'test/mail/failover.test.ts', 'test/mail/smtp-pool-warm.test.ts', 'test/web/slow-smtp.test.ts']

/**
 * The files that take longest (half a minute or more each in CI), started first: the last file
 * to start should be a short one, not one that keeps the run going alone for minutes.
 */
const SLOW_FIRST = [
  'test/scale-out/',
  'test/mail/processes',
  'test/cli/mail-commands',
  'test/e2e/accessibility',
  'test/mail/flow-control',
  'test/cli/',
  'test/e2e/',
  'test/mail/lanes',
  'test/web/account-abuse',
]
const rank = (file) => {
  const at = SLOW_FIRST.findIndex((prefix) => file.startsWith(prefix))
  return at < 0 ? SLOW_FIRST.length : at
}

/**
 * Files that open no database: the same on both passes, so they run once, on the SQLite pass
 * (or on the PostgreSQL pass when it runs alone). They run with RAGTIME_TEST_NO_DATABASE=1, which
 * makes the test helpers that hand out a database throw (test/helpers/env.ts): a file here that
 * starts using one fails, so the list cannot quietly take PostgreSQL coverage away.
 */
const DATABASE_FREE = [
  'test/accounts/delivery-status.test.ts',
  'test/cli/help.test.ts',
  'test/cli/mail-doctor.test.ts',
  'test/config/config.test.ts',
  'test/config/secret-key.test.ts',
  'test/e2e/mail-rendering.browser.test.ts',
  'test/mail/body-prefetch.test.ts',
  'test/mail/policy.test.ts',
  'test/mail/record-groups.test.ts',
  'test/mail/smtp-pool-warm.test.ts',
  'test/mail/smtp-pool.test.ts',
  'test/mail/templates.test.ts',
  'test/package/example.test.ts',
  'test/setup/engines.test.ts',
  'test/web/error-codes.test.ts',
]
for (const file of DATABASE_FREE) {
  if (!existsSync(file)) {
    console.error(`${file} is on DATABASE_FREE in scripts/run-tests.mjs but does not exist`)
    process.exit(2)
  }
}

/**
 * A file still running after this long is stopped and reported with what it printed: its report
 * is printed only when it ends, so a file that hangs would otherwise show nothing at all. The
 * slowest file takes under two minutes on a loaded 2-core machine.
 */
const FILE_TIMEOUT_MS = Number(process.env.RAGTIME_TEST_FILE_TIMEOUT_MS || 10 * 60_000)
if (!Number.isInteger(FILE_TIMEOUT_MS) || FILE_TIMEOUT_MS < 1_000 || FILE_TIMEOUT_MS > 2 ** 31 - 1) {
  console.error(`RAGTIME_TEST_FILE_TIMEOUT_MS must be a whole number of milliseconds, 1000 or more (got ${process.env.RAGTIME_TEST_FILE_TIMEOUT_MS})`)
  process.exit(2)
}

/** Files with nothing to run on SQLite (they skip themselves there, saying why, when PostgreSQL is absent). */
const POSTGRES_ONLY = ['test/scale-out/postgres.test.ts']
/**
 * Files with nothing to run on PostgreSQL (they skip themselves there, saying why): the embedded
 * demo and the statement cache are SQLite's by definition, and neither the pages' markup nor the
 * heap's sizing depends on the database. Left out of the PostgreSQL pass rather than started
 * there to skip (a process and a build of the app each).
 */
const SQLITE_ONLY = ['test/e2e/accessibility.browser.test.ts', 'test/e2e/demo.browser.test.ts', 'test/cli/heap.test.ts', 'test/db/statement-cache.test.ts', 'test/db/sqlite-plans.test.ts']
for (const file of [...POSTGRES_ONLY, ...SQLITE_ONLY, ...WAITING]) {
  if (!existsSync(file)) {
    console.error(`${file} is listed in scripts/run-tests.mjs but does not exist`)
    process.exit(2)
  }
}

const NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' }
const COUNTS = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo']

// Options for node:test (--test-name-pattern=…, --test-only) go to every file; the rest are files.
const nodeOptions = process.argv.slice(2).filter((arg) => arg.startsWith('--'))
const given = [...new Set(process.argv.slice(2).filter((arg) => !arg.startsWith('--')).map((file) => path.relative('.', file)))]
for (const file of given) {
  if (!file.startsWith(`test${path.sep}`) || !file.endsWith('.test.ts') || !existsSync(file)) {
    console.error(`${file}: give test files as test/…/<name>.test.ts`)
    process.exit(2)
  }
}
const files = given.length
  ? given
  : readdirSync('test', { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => path.join('test', file))
const concurrency = Number(process.env.RAGTIME_TEST_CONCURRENCY ?? FILES_AT_ONCE)
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`RAGTIME_TEST_CONCURRENCY must be a whole number of files, 1 or more (got ${process.env.RAGTIME_TEST_CONCURRENCY})`)
  process.exit(2)
}

/** Drops the schemas the tests made (ragtime_test_…), leftovers of earlier runs included. */
async function dropTestSchemas(url) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query(`select nspname from pg_namespace where nspname like 'ragtime\\_test\\_%'`)
  for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`)
  await client.end()
}

async function postgresAnswers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

// ANSI colour codes, dropped before the report's lines are read.
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g')
const plain = (line) => line.replace(COLOUR, '')

/** The files' processes still running: stopped with their groups if this runner is. */
const running = new Set()
const killGroup = (child) => {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of running) killGroup(child)
    process.exit(130)
  })
}

/**
 * Runs one test file on one database; resolves with its report (the lines it printed), its
 * counts, and whether it failed (a failing test, or a process that ended badly).
 */
function runFile({ dialect, file }, { prefix, colour }) {
  const started = Date.now()
  const env = { ...process.env, RAGTIME_TEST_DB: dialect }
  if (colour) env.FORCE_COLOR = '1'
  if (DATABASE_FREE.includes(file)) env.RAGTIME_TEST_NO_DATABASE = '1'
  const compiled = path.join('dist', file.replace(/\.ts$/, '.js'))
  // A process group of its own, so that a file stopped at its time limit takes what it started
  // (servers, workers, Chromium) with it.
  const child = spawn(process.execPath, ['--enable-source-maps', '--test-reporter=spec', ...nodeOptions, compiled], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    detached: true,
  })
  running.add(child)
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child)
  }, FILE_TIMEOUT_MS)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      if (timedOut) output += `\n✖ stopped: still running after ${FILE_TIMEOUT_MS / 1000} s (RAGTIME_TEST_FILE_TIMEOUT_MS)\n`
      const lines = output.replace(/\n$/, '').split('\n')
      const counts = Object.fromEntries(COUNTS.map((name) => [name, 0]))
      for (const line of lines) {
        const match = /^ℹ (\w+) (\d+)$/.exec(plain(line))
        if (match && match[1] in counts) counts[match[1]] = Number(match[2])
      }
      const seconds = Math.round((Date.now() - started) / 1000)
      // No summary: the file ended before node:test could report (a process.exit, a crash).
      const summarised = lines.some((line) => /^ℹ tests \d+$/.test(plain(line)))
      const failed = code !== 0 || !summarised || counts.fail > 0 || counts.cancelled > 0
      const status = failed ? `FAILED (${signal ?? `exit ${code}`}${summarised ? '' : ', no summary'})` : 'ok'
      lines.push(`# ${file}: ${status}, ${counts.tests} tests in ${seconds} s`)
      const tag = prefix ? `[${dialect}] ` : ''
      process.stdout.write(lines.map((line) => `${tag}${line}\n`).join(''))
      // What the reporter lists under "failing tests", or, when the process itself failed, its end.
      const from = lines.findIndex((line) => plain(line).startsWith('✖ failing tests:'))
      const failures = failed ? (from >= 0 ? lines.slice(from + 1, -1) : lines.slice(-30, -1)) : []
      resolve({ dialect, file, counts, failed, failures, finishedAt: Date.now() })
    })
  })
}

// The app's own build first (dist/src, the links to templates/ and public/, its date stamp) when a
// source is newer than it (after `npm ci`, whose prepare step built it, nothing is), then the tests
// beside it. An emitted file whose source is gone is removed, or a test importing a
// deleted module would run the old one (the emit does not check types, and so not imports).
if (spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: 'inherit' }).status !== 0) process.exit(1)
for (const dir of ['src', 'test'].filter((dir) => existsSync(path.join('dist', dir)))) {
  for (const entry of readdirSync(path.join('dist', dir), { recursive: true }).map(String)) {
    const source = path.join(dir, entry.replace(/\.js(\.map)?$/, '.ts'))
    if (/\.js(\.map)?$/.test(entry) && !existsSync(source)) rmSync(path.join('dist', dir, entry))
  }
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
if (spawnSync(process.execPath, [tsc, '-p', 'tsconfig.test.json'], { stdio: 'inherit' }).status !== 0) {
  console.error('the tests did not compile (tsc -p tsconfig.test.json)')
  process.exit(1)
}

const only = process.env.RAGTIME_TEST_DB || undefined
if (only !== undefined && only !== 'sqlite' && only !== 'postgres') {
  console.error(`RAGTIME_TEST_DB must be sqlite or postgres (got ${only})`)
  process.exit(2)
}
let status = 0
const dialects = only === 'postgres' ? [] : ['sqlite']
const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
if (only !== 'sqlite') {
  if (await postgresAnswers(url)) dialects.push('postgres')
  else if (process.env.RAGTIME_REQUIRE_POSTGRES === '1') {
    console.error(`PostgreSQL suite required, but no server answers at ${url}`)
    status = 1
  } else {
    console.log(`\n# PostgreSQL suite skipped: no server answers at ${url} (set TEST_DATABASE_URL to run it)`)
  }
}
if (dialects.includes('postgres')) await dropTestSchemas(url)

const onceOnly = dialects.includes('sqlite') ? files.filter((file) => DATABASE_FREE.includes(file)) : []
if (onceOnly.length > 0 && dialects.includes('postgres')) {
  const many = onceOnly.length > 1
  console.log(`# ${onceOnly.length} ${many ? 'files that open' : 'file that opens'} no database ${many ? 'run' : 'runs'} on the SQLite pass only: ${onceOnly.join(', ')}`)
}
const sqliteOnly = dialects.length > 1 ? files.filter((file) => SQLITE_ONLY.includes(file)) : []
if (sqliteOnly.length > 0) console.log(`# on the SQLite pass only, skipped whole on PostgreSQL: ${sqliteOnly.join(', ')}`)
const onPass = (dialect, file) =>
  dialect === 'sqlite'
    ? !(dialects.includes('postgres') && POSTGRES_ONLY.includes(file))
    : !onceOnly.includes(file) && !sqliteOnly.includes(file)
const jobs = dialects
  .flatMap((dialect) => files.filter((file) => onPass(dialect, file)).map((file) => ({ dialect, file })))
  .sort((a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) || a.dialect.localeCompare(b.dialect))
const waiting = jobs.filter((job) => WAITING.includes(job.file))
const working = jobs.filter((job) => !WAITING.includes(job.file))
console.log(`# ${jobs.length} test files on ${dialects.map((d) => NAMES[d]).join(' and ')}, ${concurrency} at once${waiting.length > 0 ? `, and beside them, one at a time, the ${waiting.length} that mostly wait on the clock` : ''}`)

const started = Date.now()
const options = { prefix: dialects.length > 1, colour: process.stdout.isTTY && process.env.NO_COLOR === undefined && process.env.FORCE_COLOR === undefined }
const results = []
let next = 0
await Promise.all([
  ...Array.from({ length: Math.min(concurrency, working.length) }, async () => {
    while (next < working.length) results.push(await runFile(working[next++], options))
  }),
  (async () => {
    for (const job of waiting) results.push(await runFile(job, options))
    // Its own files done, this slot takes CPU-bound ones too: by then the slowest have run, and
    // the CPU was idle a third of the time in what was left with only FILES_AT_ONCE of them.
    while (next < working.length) results.push(await runFile(working[next++], options))
  })(),
])
if (dialects.includes('postgres')) await dropTestSchemas(url)

// Each pass's totals, then every failure again: the end of a long log is what gets read.
console.log('')
for (const dialect of dialects) {
  const mine = results.filter((r) => r.dialect === dialect)
  const total = Object.fromEntries(COUNTS.map((name) => [name, mine.reduce((sum, r) => sum + r.counts[name], 0)]))
  const failedFiles = mine.filter((r) => r.failed).length
  const seconds = Math.round((Math.max(started, ...mine.map((r) => r.finishedAt)) - started) / 1000)
  console.log(`# ${NAMES[dialect]}: ${COUNTS.map((name) => `${name} ${total[name]}`).join(', ')}, in ${mine.length} file${mine.length === 1 ? '' : 's'}`)
  console.log(`# ${NAMES[dialect]} pass ${failedFiles === 0 ? 'passed' : `failed (${failedFiles} file${failedFiles > 1 ? 's' : ''})`} in ${seconds} s`)
  if (failedFiles > 0) status = 1
}
const failures = results.filter((r) => r.failed)
if (failures.length > 0) {
  console.log('\n# failing:')
  for (const r of failures) {
    console.log(`## [${r.dialect}] ${r.file}`)
    for (const line of r.failures.slice(0, 80)) console.log(line)
  }
}
console.log(`# all done in ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(status)
