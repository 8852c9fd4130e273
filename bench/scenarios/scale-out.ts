// 7. Scale-out on PostgreSQL: delivery throughput with 1, 2 and 4 `ragtime worker` processes
// against an SMTP server that takes 20 ms per message, the relay's connections capped at 5 per
// worker (RAGTIME_MAIL_MAX_CONNECTIONS = 5 × workers, shared through the database): delivery is
// bound by SMTP latency, and each worker brings its 5 connections. One worker uncapped (up to the
// default 50) is measured beside them, to show what adaptive connections alone do.
import { sql } from 'kysely'
import { notifyChannel } from '@ragtime/outbox'
import { transaction } from '../../src/db/index.ts'
import { type RagtimeProcess, ragtimeEnv, startWorker } from '../lib/app-process.ts'
import { newPostgresDatabase, postgresAnswers } from '../lib/databases.ts'
import { runsLabel, thousands, withSpread } from '../lib/format.ts'
import { enqueueTestMails, openBenchDatabase } from '../lib/prepare-queue.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { ratio, summarize } from '../lib/stats.ts'
import { epochMs } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const SMTP_DELAY_MS = 20
const CONNECTIONS_PER_WORKER = 5
const SIZES = {
  full: { messages: 4_000, rounds: 2, workerCounts: [1, 2, 4] },
  quick: { messages: 300, rounds: 1, workerCounts: [1, 4] },
}

/** Messages per second delivered by `workers` processes sharing one PostgreSQL outbox. */
async function throughput(workers: number, messages: number, sink: Sink, maxConnections: number): Promise<number> {
  await sink.reset()
  const databaseUrl = await newPostgresDatabase()
  const database = await openBenchDatabase(databaseUrl)
  const processes: RagtimeProcess[] = []
  try {
    // Queued while the workers start, but held back until every one is up: start-up is not measured.
    const env = ragtimeEnv({ databaseUrl, smtpPort: sink.port, extra: { RAGTIME_MAIL_MAX_CONNECTIONS: String(maxConnections) } })
    const [started] = await Promise.all([
      Promise.allSettled(Array.from({ length: workers }, () => startWorker(env))),
      enqueueTestMails(database, messages, new Date(Date.now() + 3_600_000)),
    ])
    for (const result of started) if (result.status === 'fulfilled') processes.push(result.value)
    const failure = started.find((result) => result.status === 'rejected')
    if (failure) throw failure.reason
    const releasedAt = epochMs()
    await transaction(database.db.kysely, async (trx) => {
      await trx.updateTable('mail_outbox').set({ run_at: Date.now() }).execute()
      await sql`select pg_notify(${notifyChannel()}, '')`.execute(trx)
    })
    const lastAcceptedAt = await sink.waitForAccepted(messages, 120_000)
    return messages / ((lastAcceptedAt - releasedAt) / 1000)
  } finally {
    await Promise.all(processes.map((p) => p.stop()))
    await database.db.close()
  }
}

async function run({ quick }: BenchOptions) {
  if (!(await postgresAnswers())) {
    console.log('  skipped: no PostgreSQL server answers (set BENCH_DATABASE_URL)')
    return { rows: [], details: { skipped: 'no PostgreSQL server answered' }, notes: ['Scale-out: skipped, no PostgreSQL server answered.'] }
  }
  const { messages, rounds, workerCounts } = quick ? SIZES.quick : SIZES.full
  const rates = new Map<number, number[]>(workerCounts.map((n) => [n, []]))
  const uncapped: number[] = []
  await withSink({ delayMs: SMTP_DELAY_MS }, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? workerCounts : [...workerCounts].reverse()
      for (const workers of order) {
        const rate = await throughput(workers, messages, sink, CONNECTIONS_PER_WORKER * workers)
        rates.get(workers)!.push(rate)
        console.log(`  round ${round + 1}  ${workers} worker${workers > 1 ? 's' : ' '}  ${thousands(rate)}/s`)
      }
      const rate = await throughput(1, messages, sink, 50)
      uncapped.push(rate)
      console.log(`  round ${round + 1}  1 worker, up to 50 connections  ${thousands(rate)}/s`)
    }
  })
  const alone = summarize(uncapped)
  const perWorkers = new Map(workerCounts.map((n) => [n, summarize(rates.get(n)!)]))
  const [fewest, most] = [perWorkers.get(1)!, perWorkers.get(4)!]
  const fourVsOne = ratio(most.median, fewest.median)
  const more = workerCounts.filter((n) => n > 1).map((n) => `${n} workers: ${withSpread(perWorkers.get(n)!, '/s')}`)
  return {
    rows: [
      {
        scenario:
          `Delivery of ${thousands(messages)} messages by ${workerCounts.join(' / ')} ragtime worker processes, PostgreSQL, ` +
          `SMTP taking ${SMTP_DELAY_MS} ms, the relay capped at ${CONNECTIONS_PER_WORKER} connections per worker (${runsLabel(rounds)})`,
        result: more.join('; '),
        baseline: `1 worker: ${withSpread(fewest, '/s')}`,
        ratio: `4 vs 1: ×${fourVsOne}`,
        target: '≥ 3',
      },
      {
        scenario: '… one worker alone, connections adapting up to the default RAGTIME_MAIL_MAX_CONNECTIONS (50)',
        result: `1 worker: ${withSpread(alone, '/s')}`,
        baseline: `1 worker capped at ${CONNECTIONS_PER_WORKER}: ${withSpread(fewest, '/s')}`,
        ratio: `×${ratio(alone.median, fewest.median)}`,
        target: '',
      },
    ],
    details: { messages, smtpDelayMs: SMTP_DELAY_MS, rounds, perSecond: Object.fromEntries(perWorkers), fourVsOne, uncapped: alone },
    notes: quick ? ['Scale-out (--quick): 1 and 4 workers only.'] : [],
  }
}

export const scaleOut: Scenario = { id: 'scale-out', title: '7. Scale-out on PostgreSQL', run }
