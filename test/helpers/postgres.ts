import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** The server the PostgreSQL pass uses: TEST_DATABASE_URL, or the local one. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Whether this pass of the suite runs on PostgreSQL (scripts/run-tests.mjs sets it). */
export const ON_POSTGRES = process.env.RAGTIME_TEST_DB === 'postgres'

function run(statement: string): void {
  // Synchronous on purpose: test environments are built synchronously.
  execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import pg from 'pg'; const c = new pg.Client({ connectionString: process.argv[1] }); await c.connect(); await c.query(process.argv[2]); await c.end()`,
      TEST_DATABASE_URL,
      statement,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

/**
 * Schemas made ahead, each for one test: making one costs a process (see `run`), making a batch
 * costs the same. Those left unused when the file ends go with the rest (scripts/run-tests.mjs
 * drops every ragtime_test_… schema after the pass).
 */
const SCHEMA_BATCH = 8
const madeAhead: string[] = []

/** A fresh schema (named ragtime_test_…); the returned DATABASE_URL puts it on the search path. */
export function createTestSchema(): string {
  if (madeAhead.length === 0) {
    const batch = Array.from({ length: SCHEMA_BATCH }, () => `ragtime_test_${randomBytes(6).toString('hex')}`)
    run(batch.map((name) => `create schema ${name};`).join(' '))
    madeAhead.push(...batch)
  }
  const schema = madeAhead.pop() as string
  const url = new URL(TEST_DATABASE_URL)
  // synchronous_commit=off: a commit returns before its WAL reaches the disk. What the tests check
  // (visibility, locks, NOTIFY, each step once) is the same; only a crash of the server itself could
  // lose the last commits, and no test crashes it.
  url.searchParams.set('options', `-c search_path=${schema} -c synchronous_commit=off`)
  return url.toString()
}
