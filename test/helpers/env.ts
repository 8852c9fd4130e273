import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import pino from 'pino'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { type Db, migrateToLatest, openDatabase } from '../../src/db/index.ts'
import type { Clock } from '../../src/mail/index.ts'
import { createTestSchema, ON_POSTGRES } from './postgres.ts'

export const silentLogger = pino({ level: 'silent' })

/**
 * Where test databases go: a memory file system when there is one (Linux), where SQLite's fsync
 * at each commit costs nothing. What the tests check does not depend on the disk; a process
 * killed mid-write (the crash tests) leaves the same file either way.
 */
const MEMORY_FS = existsSync('/dev/shm') ? '/dev/shm' : undefined

/** A fresh folder, removed after the current test (or file, at top level). */
export function tempDir(parent = tmpdir()): string {
  const dir = mkdtempSync(path.join(parent, 'ragtime-test-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A database of the test's own: a fresh SQLite file, or on the PostgreSQL pass a fresh schema. */
export function testDatabaseUrl(): string {
  // scripts/run-tests.mjs runs the files it lists as using no database once only, with this set.
  if (process.env.RAGTIME_TEST_NO_DATABASE === '1') {
    throw new Error('this file is on DATABASE_FREE in scripts/run-tests.mjs, so it runs on one pass only: take it off the list to use a database')
  }
  if (!ON_POSTGRES) return `sqlite:${path.join(tempDir(MEMORY_FS), 'ragtime.sqlite')}`
  // Dropped in bulk by scripts/run-tests.mjs after the pass, once every connection is gone.
  return createTestSchema()
}

/** The environment of a test: its own database, a quiet log. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
    RAGTIME_MAIL_SUBJECT_PREFIX: '[Ragtime] ',
    RAGTIME_LOG_LEVEL: 'silent',
    ...overrides,
  }
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides))
}

/** Opens and migrates the configured database; the caller closes it. */
export async function testDb(config: Config): Promise<Db> {
  const db = openDatabase(config.database)
  await migrateToLatest(db)
  return db
}

/** Time that moves only when a test says so. */
export class ManualClock implements Clock {
  #now: number
  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start
  }
  now(): number {
    return this.#now
  }
  advance(ms: number): void {
    this.#now += ms
  }
}
