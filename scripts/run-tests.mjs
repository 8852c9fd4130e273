// Runs every test/**/*.test.ts under node:test (through tsx), or the files given as arguments:
// on SQLite and, at the same time, on PostgreSQL (each test in a schema of its own) when a
// server answers at TEST_DATABASE_URL (default: the local one). RAGTIME_TEST_DB=sqlite|postgres
// runs one pass only. RAGTIME_REQUIRE_POSTGRES=1 (CI) makes a missing server a failure instead
// of a skip.
//
// Each pass is one `node --test` child running RAGTIME_TEST_CONCURRENCY files at once (default
// FILES_AT_ONCE below, shared by the passes). Files can run side by side because each test has a database of its own (a
// temporary SQLite file, a PostgreSQL schema), listens on ports the system picks, and writes
// nothing outside its temporary folders. With both passes running, every line a pass prints
// starts with its name. Files on DATABASE_FREE below run on the SQLite pass only.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'

/**
 * Test files running at once, over both passes: one per pass when both run, two when one does.
 * The suite is CPU-bound on a 2-core machine (many files start servers, workers and Chromium):
 * eight files at once (four per pass) drove the load average to 16 and processes missed their
 * 20 s start-up bounds in CI. On PostgreSQL the tests in a file run one at a time, each with a
 * pool of at most 10 connections (src/db), one more per running worker's LISTEN; the scale-out
 * test holds more, with five processes of its own: a few files at once stay under the server's
 * 100 connections. More cores: raise RAGTIME_TEST_CONCURRENCY (per pass).
 */
const FILES_AT_ONCE = 2

/**
 * The files that take longest (a minute or more each in CI), started first: the last file to start
 * should be a short one, not one that keeps the run going alone for minutes.
 */
const SLOW_FIRST = ['test/scale-out/', 'test/cli/', 'test/mail/processes', 'test/e2e/', 'test/web/account-abuse', 'test/mail/flow-control', 'test/mail/lanes']
const rank = (file) => {
  const at = SLOW_FIRST.findIndex((prefix) => file.startsWith(prefix))
  return at < 0 ? SLOW_FIRST.length : at
}

/**
 * Files that open no database: the same on both passes, so they run once, on the SQLite pass
 * (or on the PostgreSQL pass when it runs alone). A file here that starts opening a database is
 * an error below, so the list cannot quietly take PostgreSQL coverage away.
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
  'test/mail/smtp-pool-warm.test.ts',
  'test/mail/smtp-pool.test.ts',
  'test/mail/templates.test.ts',
  'test/setup/engines.test.ts',
]
const OPENS_A_DATABASE = /\b(webHarness|harness|testDb|testEnv|testConfig|testDatabaseUrl|openDatabase|migrateToLatest)\(/
for (const file of DATABASE_FREE) {
  if (OPENS_A_DATABASE.test(readFileSync(file, 'utf8'))) {
    console.error(`${file} opens a database: take it off DATABASE_FREE in scripts/run-tests.mjs, so that it runs on both passes`)
    process.exit(2)
  }
}

const given = process.argv.slice(2)
const files = given.length
  ? given
  : readdirSync('test', { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => path.join('test', file))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
const bothPasses = process.env.RAGTIME_TEST_DB === undefined || process.env.RAGTIME_TEST_DB === ''
const concurrency = Number(process.env.RAGTIME_TEST_CONCURRENCY ?? (bothPasses ? FILES_AT_ONCE / 2 : FILES_AT_ONCE))
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`RAGTIME_TEST_CONCURRENCY must be a whole number of files, 1 or more (got ${process.env.RAGTIME_TEST_CONCURRENCY})`)
  process.exit(2)
}

const NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' }

/**
 * Runs the suite on `dialect`; resolves with its exit status. `prefix`: print each line of its
 * output after the pass's name (two passes at once), instead of handing it the terminal.
 */
function pass(dialect, { prefix, files }) {
  const started = Date.now()
  const env = { ...process.env, RAGTIME_TEST_DB: dialect }
  // Piped, the reporter would drop its colours.
  if (prefix && process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = '1'
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit', env },
  )
  if (prefix) {
    const tag = `[${dialect}] `
    for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${tag}${line}\n`))
    }
  } else {
    console.log(`\n# ${NAMES[dialect]} pass`)
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const status = code ?? 1
      const seconds = ((Date.now() - started) / 1000).toFixed(0)
      console.log(`# ${NAMES[dialect]} pass ${status === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${seconds} s`)
      resolve(status)
    })
  })
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
const prefix = dialects.length > 1
const onceOnly = dialects.includes('sqlite') ? files.filter((file) => DATABASE_FREE.includes(file)) : []
if (onceOnly.length > 0 && dialects.includes('postgres')) {
  console.log(`# ${onceOnly.length} file${onceOnly.length > 1 ? 's' : ''} that open no database run on the SQLite pass only: ${onceOnly.join(', ')}`)
}
const statuses = await Promise.all(
  dialects.map((dialect) => pass(dialect, { prefix, files: dialect === 'postgres' ? files.filter((file) => !onceOnly.includes(file)) : files })),
)
if (dialects.includes('postgres')) await dropTestSchemas(url)
process.exit(status || (statuses.find((s) => s !== 0) ?? 0))
