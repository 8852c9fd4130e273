// Scale-out: delivery throughput with 1, 2 and 4 `ragtime worker` processes against an SMTP
// sink that takes 20 ms per message, and enqueue-to-accepted latency at low load, on
// PostgreSQL and on SQLite, in one run.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import { SMTPServer } from 'smtp-server'
import { loadConfig } from '../src/config/index.ts'
import { type Db, migrateToLatest, openDatabase, transaction } from '../src/db/index.ts'
import { outboxFromConfig, workerFromConfig } from '../src/mail/index.ts'

const BIN = path.resolve(import.meta.dirname, '../bin/ragtime.js')
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const MESSAGES = Number(process.env.BENCH_SCALE_MESSAGES ?? 3_000)

/** An in-process SMTP sink that remembers when each recipient's message was accepted. */
async function sink(delayMs: number) {
  const acceptedAt = new Map<string, number>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, callback) {
      stream.resume()
      stream.on('end', () =>
        setTimeout(() => {
          for (const r of session.envelope.rcptTo) acceptedAt.set(r.address, performance.now())
          callback(null, 'ok')
        }, delayMs),
      )
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.server.address()
  return { port: typeof address === 'object' && address ? address.port : 0, acceptedAt, close: () => new Promise<void>((r) => server.close(() => r())) }
}

async function freshDatabase(kind: 'sqlite' | 'postgres', work: string): Promise<string> {
  if (kind === 'sqlite') return `sqlite:${path.join(work, `${Math.random().toString(36).slice(2)}.sqlite`)}`
  const schema = `ragtime_bench_${Math.random().toString(36).slice(2, 10)}`
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  await client.query(`create schema ${schema}`)
  await client.end()
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return url.toString()
}

async function dropBenchSchemas() {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  const { rows } = await client.query(`select nspname from pg_namespace where nspname like 'ragtime\\_bench\\_%'`)
  for (const { nspname } of rows) await client.query(`drop schema "${nspname}" cascade`)
  await client.end()
}

function envFor(databaseUrl: string, smtpPort: number): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    MAIL_SERVER: '127.0.0.1',
    MAIL_PORT: String(smtpPort),
    RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
    RAGTIME_MAIL_POLL: '100ms',
    RAGTIME_LOG_LEVEL: 'info',
  }
}

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  return new Promise((resolve) => {
    let seen = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.includes('mail worker started')) resolve(child)
    })
  })
}

async function open(databaseUrl: string): Promise<{ db: Db; config: ReturnType<typeof loadConfig> }> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>', RAGTIME_LOG_LEVEL: 'warn' })
  const db = openDatabase(config.database)
  await migrateToLatest(db)
  return { db, config }
}

async function throughput(kind: 'sqlite' | 'postgres', workers: number, work: string): Promise<number> {
  const smtp = await sink(20)
  const url = await freshDatabase(kind, work)
  const { db, config } = await open(url)
  const outbox = outboxFromConfig(config, db)
  // Held back until every worker is up, so start-up time is not measured.
  const later = new Date(Date.now() + 3_600_000)
  await transaction(db.kysely, async (trx) => {
    for (let i = 0; i < MESSAGES; i++) {
      await outbox.enqueue(trx, { template: 'system/test', to: `u${i}@example.test`, subject: 'Bench', context: { sentAt: 'now', baseUrl: 'x' } }, { runAt: later })
    }
  })
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(envFor(url, smtp.port))))
  const started = performance.now()
  await transaction(db.kysely, async (trx) => {
    await trx.updateTable('mail_outbox').set({ run_at: Date.now() }).execute()
    if (kind === 'postgres') await sql`select pg_notify('ragtime_mail', '')`.execute(trx)
  })
  while (smtp.acceptedAt.size < MESSAGES) await new Promise((resolve) => setTimeout(resolve, 20))
  const rate = MESSAGES / ((performance.now() - started) / 1000)
  for (const child of children) child.kill('SIGTERM')
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))))
  await db.close()
  await smtp.close()
  return Math.round(rate)
}

/** One message every 20 ms; the time from its commit to the server accepting it. */
async function latency(kind: 'sqlite' | 'postgres', where: 'in-process' | 'worker process', work: string) {
  const smtp = await sink(0)
  const url = await freshDatabase(kind, work)
  const { db, config } = await open(url)
  const outbox = outboxFromConfig(config, db)
  const env = envFor(url, smtp.port)
  const child = where === 'worker process' ? await startWorker({ ...env, RAGTIME_MAIL_POLL: '1s' }) : undefined
  const local = where === 'in-process' ? workerFromConfig(loadConfig(env), outbox, pino({ level: 'warn' })) : undefined
  local?.start()
  const committedAt = new Map<string, number>()
  for (let i = 0; i < 100; i++) {
    const to = `u${i}@example.test`
    await transaction(db.kysely, (trx) =>
      outbox.enqueue(trx, { template: 'system/test', to, subject: 'Bench', context: { sentAt: 'now', baseUrl: 'x' } }),
    )
    committedAt.set(to, performance.now())
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  while (smtp.acceptedAt.size < 100) await new Promise((resolve) => setTimeout(resolve, 20))
  const ms = [...committedAt].map(([to, at]) => (smtp.acceptedAt.get(to) ?? at) - at).sort((a, b) => a - b)
  child?.kill('SIGTERM')
  if (child) await new Promise((resolve) => child.once('exit', resolve))
  await local?.stop()
  await db.close()
  await smtp.close()
  return { p50: Math.round(ms[49] ?? 0), p99: Math.round(ms[98] ?? 0) }
}

export async function scaleOut() {
  const work = mkdtempSync(path.join(tmpdir(), 'ragtime-scale-'))
  const results: Record<string, unknown> = {}
  try {
    console.log(`throughput, ${MESSAGES} messages, SMTP sink taking 20 ms per message, 5 connections per worker:`)
    for (const kind of ['postgres', 'sqlite'] as const) {
      const rates: Record<number, number> = {}
      for (const n of [1, 2, 4]) rates[n] = await throughput(kind, n, work)
      const ratio = Number(((rates[4] ?? 0) / (rates[1] ?? 1)).toFixed(2))
      console.log(`  ${kind.padEnd(9)} 1 worker ${rates[1]}/s, 2 workers ${rates[2]}/s, 4 workers ${rates[4]}/s; 4 vs 1: ${ratio}× (target ≥ 3)`)
      results[`${kind}Throughput`] = { ...rates, fourVsOne: ratio }
    }
    console.log('enqueue-to-accepted latency, one message every 20 ms:')
    for (const [kind, where] of [['postgres', 'worker process'], ['sqlite', 'in-process'], ['sqlite', 'worker process']] as const) {
      const l = await latency(kind, where, work)
      console.log(`  ${kind.padEnd(9)} ${where.padEnd(15)} p50 ${l.p50} ms, p99 ${l.p99} ms`)
      results[`${kind}Latency_${where.replace(' ', '_')}`] = l
    }
    return results
  } finally {
    rmSync(work, { recursive: true, force: true })
    await dropBenchSchemas()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await scaleOut()
