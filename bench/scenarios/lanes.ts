// 8. Lanes: with 20,000 notices queued and an SMTP server that takes 100 ms per message, a new
// confirmation (priority high) is accepted within 1 s: p99 over 50, each from its enqueue to the
// server's acceptance, while the worker is busy with the notices. The baseline is what a
// first-in, first-out queue would make it wait: the backlog ahead of it at the measured rate.
import { CHEAP_PASSWORD_HASHING, type RagtimeProcess, ragtimeEnv, startServe, startWorker } from '../lib/app-process.ts'
import { newPostgresDatabase, newSqliteFile, postgresAnswers, sqliteUrl } from '../lib/databases.ts'
import { runsLabel, seconds, thousands, withSpread } from '../lib/format.ts'
import { type BenchDatabase, enqueueTestMails, openBenchDatabase } from '../lib/prepare-queue.ts'
import { benchAddress, signUp } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { type Latencies, latencies, summarize } from '../lib/stats.ts'
import { epochMs, sleep, until } from '../lib/time.ts'
import { transaction } from '../../src/db/index.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const SMTP_DELAY_MS = 100
const INTERVAL_MS = 200
const TARGET_MS = 1_000
/** Bench users from here on are the confirmations; the notices are users 0 … notices − 1. */
const FIRST_CONFIRMATION = 1_000_000
const SIZES = { full: { notices: 20_000, confirmations: 50, rounds: 2 }, quick: { notices: 2_000, confirmations: 10, rounds: 1 } }

interface Variant {
  readonly key: 'sqliteServe' | 'postgresWorker'
  readonly label: string
}

const SQLITE_SERVE: Variant = { key: 'sqliteServe', label: 'SQLite, ragtime serve (sign-ups to POST /auth/register)' }
const POSTGRES_WORKER: Variant = { key: 'postgresWorker', label: 'PostgreSQL, ragtime worker (enqueued elsewhere, NOTIFY)' }

interface Run {
  readonly latencies: Latencies
  /** Notices the server accepted per second while the confirmations were measured. */
  readonly noticesPerSecond: number
  /** Notices still waiting when the last confirmation was accepted. */
  readonly noticesLeft: number
}

/** One confirmation: how it is committed; resolves with the time to measure from (epoch ms). */
type Confirm = (k: number) => Promise<number>

async function measure(variant: Variant, notices: number, confirmations: number, sink: Sink): Promise<Run> {
  await sink.reset()
  const databaseUrl = variant.key === 'postgresWorker' ? await newPostgresDatabase() : sqliteUrl(newSqliteFile('lanes'))
  const queue: BenchDatabase = await openBenchDatabase(databaseUrl)
  let app: RagtimeProcess | undefined
  let enqueuer: BenchDatabase | undefined
  try {
    await enqueueTestMails(queue, notices)
    await queue.db.close()
    const env = ragtimeEnv({ databaseUrl, smtpPort: sink.port, extra: CHEAP_PASSWORD_HASHING })
    let confirm: Confirm
    if (variant.key === 'sqliteServe') {
      // The confirmation email of a sign-up, committed in the request: measured from the
      // request's start (an upper bound on the time from its commit).
      const serve = (app = await startServe(env))
      confirm = async (k) => {
        const startedAt = epochMs()
        await signUp(serve.baseUrl!, FIRST_CONFIRMATION + k)
        return startedAt
      }
    } else {
      app = await startWorker(env)
      const { db, outbox } = (enqueuer = await openBenchDatabase(databaseUrl))
      confirm = async (k) => {
        await transaction(db.kysely, (trx) =>
          outbox.enqueue(
            trx,
            { template: 'system/test', to: benchAddress(FIRST_CONFIRMATION + k), subject: 'Confirm', context: { sentAt: String(k), baseUrl: 'http://localhost:3000' } },
            { priority: 'high' },
          ),
        )
        return epochMs()
      }
    }
    // Busy: every connection on a notice, a batch of notices claimed, the rest waiting.
    await until('the worker to be busy with notices', async () => (await sink.counts()).accepted >= 50, { timeoutMs: 60_000, everyMs: 100 })
    const firstCounts = await sink.counts()
    const startedAt = epochMs()
    const committedAt: number[] = []
    for (let k = 0; k < confirmations; k++) {
      committedAt.push(await confirm(k))
      await sleep(INTERVAL_MS)
    }
    const address = (k: number) => benchAddress(FIRST_CONFIRMATION + k)
    let accepted = await sink.recipients()
    await until('every confirmation to be accepted', async () => {
      accepted = await sink.recipients()
      return committedAt.every((_, k) => accepted.has(address(k)))
    }, { timeoutMs: 60_000, everyMs: 250 })
    const lastAt = Math.max(...committedAt.map((_, k) => accepted.get(address(k))!.firstAt))
    let noticesOut = 0
    for (const [to, { firstAt }] of accepted) if (to.startsWith('user') && Number(to.slice(4, to.indexOf('@'))) < notices && firstAt <= lastAt) noticesOut++
    const noticesDuring = (await sink.counts()).accepted - firstCounts.accepted - confirmations
    return {
      latencies: latencies(committedAt.map((at, k) => accepted.get(address(k))!.firstAt - at)),
      noticesPerSecond: Math.round(noticesDuring / ((epochMs() - startedAt) / 1000)),
      noticesLeft: notices - noticesOut,
    }
  } finally {
    await app?.stop()
    await enqueuer?.db.close()
  }
}

async function run({ quick }: BenchOptions) {
  const { notices, confirmations, rounds } = quick ? SIZES.quick : SIZES.full
  const withPostgres = await postgresAnswers()
  const variants = [SQLITE_SERVE, ...(withPostgres ? [POSTGRES_WORKER] : [])]
  const runs = new Map<Variant, Run[]>(variants.map((v) => [v, []]))
  await withSink({ delayMs: SMTP_DELAY_MS }, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const result = await measure(variant, notices, confirmations, sink)
        runs.get(variant)!.push(result)
        const { p50, p99, max } = result.latencies
        console.log(
          `  round ${round + 1}  ${variant.label.padEnd(58)} p50 ${p50} ms  p99 ${p99} ms  max ${max} ms` +
            `  (${thousands(result.noticesLeft)} notices still waiting, ${thousands(result.noticesPerSecond)}/s)`,
        )
      }
    }
  })
  const summaries = variants.map((variant) => {
    const results = runs.get(variant)!
    const rate = summarize(results.map((r) => r.noticesPerSecond))
    return {
      variant: variant.label,
      p50: summarize(results.map((r) => r.latencies.p50)),
      p99: summarize(results.map((r) => r.latencies.p99)),
      noticesPerSecond: rate,
      noticesLeft: summarize(results.map((r) => r.noticesLeft)),
      // First in, first out: the confirmation would wait for the whole backlog ahead of it.
      fifoWaitMs: rate.median > 0 ? Math.round((notices / rate.median) * 1000) : 0,
      runs: results,
    }
  })
  return {
    rows: summaries.map((s, i) => ({
      scenario:
        i === 0
          ? `A new confirmation with ${thousands(notices)} notices queued, SMTP taking ${SMTP_DELAY_MS} ms per message: enqueue → accepted (${confirmations} confirmations, ${runsLabel(rounds)})`
          : '…',
      result: `${s.variant}: p50 ${withSpread(s.p50, ' ms')}, p99 ${withSpread(s.p99, ' ms')}`,
      baseline: `first in, first out behind the backlog: ≈ ${seconds(s.fifoWaitMs)} (notices at ${thousands(s.noticesPerSecond.median)}/s)`,
      ratio: s.p99.median <= TARGET_MS ? 'met' : 'missed',
      target: 'p99 ≤ 1 s',
    })),
    details: { notices, confirmations, smtpDelayMs: SMTP_DELAY_MS, intervalMs: INTERVAL_MS, rounds, variants: summaries },
    notes: [
      'Lanes: on SQLite the confirmations are real sign-ups through ragtime serve, timed from the request start (an upper bound on the time from commit); on PostgreSQL the bench process enqueues them (priority high) and times them from the commit.',
      ...(withPostgres ? [] : ['Lanes: no PostgreSQL server answered; its variant was skipped.']),
    ],
  }
}

export const lanes: Scenario = { id: 'lanes', title: '8. Lanes: a confirmation behind a backlog of notices', run }
