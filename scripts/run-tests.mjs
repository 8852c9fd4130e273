// Runs every test/**/*.test.ts under node:test (through tsx), or the files given as arguments:
// once on SQLite, then again on PostgreSQL (each test in a schema of its own) when a server
// answers at TEST_DATABASE_URL (default: the local one). RAGTIME_REQUIRE_POSTGRES=1 (CI) makes
// a missing server a failure instead of a skip.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'

const given = process.argv.slice(2)
const files = given.length
  ? given
  : readdirSync('test', { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => path.join('test', file))
      .sort()

function pass(dialect) {
  console.log(`\n# ${dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'} pass`)
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
    { stdio: 'inherit', env: { ...process.env, RAGTIME_TEST_DB: dialect } },
  )
  return result.status ?? 1
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

const only = process.env.RAGTIME_TEST_DB
let status = only === 'postgres' ? 0 : pass('sqlite')
if (only !== 'sqlite') {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  if (await postgresAnswers(url)) {
    await dropTestSchemas(url)
    status = pass('postgres') || status
    await dropTestSchemas(url)
  } else if (process.env.RAGTIME_REQUIRE_POSTGRES === '1') {
    console.error(`PostgreSQL suite required, but no server answers at ${url}`)
    status = 1
  } else {
    console.log(`\n# PostgreSQL suite skipped: no server answers at ${url} (set TEST_DATABASE_URL to run it)`)
  }
}
process.exit(status)
