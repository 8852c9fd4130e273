// A fresh database for every run: a SQLite file in the bench's temporary folder, or a
// PostgreSQL schema named ragtime_bench_* (all of them dropped when the bench ends).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'

export const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let workDir: string | undefined
let fileCount = 0

/** The bench's temporary folder, created on first use and removed by {@link removeWorkDir}. */
export function benchWorkDir(): string {
  workDir ??= mkdtempSync(path.join(tmpdir(), 'ragtime-bench-'))
  return workDir
}

export function removeWorkDir(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true })
  workDir = undefined
}

/** A path for a new SQLite file; `DATABASE_URL` is `sqlite:` + this path. */
export function newSqliteFile(name: string): string {
  return path.join(benchWorkDir(), `${name}-${++fileCount}.sqlite`)
}

export const sqliteUrl = (file: string): string => `sqlite:${file}`

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Whether a PostgreSQL server answers at {@link POSTGRES_URL}. */
export async function postgresAnswers(): Promise<boolean> {
  return withClient(async (client) => (await client.query('select 1')).rowCount === 1).catch(() => false)
}

/** A new, empty schema; the returned URL puts it first on the search path. */
export async function newPostgresDatabase(): Promise<string> {
  const schema = `ragtime_bench_${Math.random().toString(36).slice(2, 10)}`
  await withClient((client) => client.query(`create schema ${schema}`))
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return url.toString()
}

/** Drops every ragtime_bench_* schema (also those a crashed earlier run left behind). */
export async function dropPostgresDatabases(): Promise<void> {
  await withClient(async (client) => {
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'ragtime\\_bench\\_%'`)
    for (const { nspname } of rows) await client.query(`drop schema "${nspname}" cascade`)
  }).catch(() => undefined)
}
