// 3. Enqueue-to-accepted latency at low load: one email committed every 50 ms; the time from
// its commit to the SMTP server accepting it.
import { startWorker, ragtimeEnv, type RagtimeProcess } from '../lib/app-process.ts'
import { newPostgresDatabase, newSqliteFile, postgresAnswers, sqliteUrl } from '../lib/databases.ts'
import { runsLabel, withSpread } from '../lib/format.ts'
import { openBenchDatabase } from '../lib/prepare-queue.ts'
import { spawnBenchProcess, stdoutLines, stopProcess } from '../lib/processes.ts'
import { benchAddress } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { type Latencies, latencies, summarize } from '../lib/stats.ts'
import { withTimeout } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const INTERVAL_MS = 50
const SIZES = { full: { messages: 60, rounds: 3 }, quick: { messages: 20, rounds: 1 } }

interface Variant {
  readonly label: string
  readonly database: 'sqlite' | 'postgres'
  readonly worker: 'in-process' | 'worker process'
}

const IN_PROCESS: Variant = { label: 'SQLite, worker in the enqueuing process (as in ragtime serve)', database: 'sqlite', worker: 'in-process' }
const POSTGRES: Variant = { label: 'PostgreSQL, separate ragtime worker (NOTIFY)', database: 'postgres', worker: 'worker process' }

async function measure(variant: Variant, messages: number, sink: Sink): Promise<Latencies> {
  await sink.reset()
  const databaseUrl = variant.database === 'postgres' ? await newPostgresDatabase() : sqliteUrl(newSqliteFile('latency'))
  let worker: RagtimeProcess | undefined
  if (variant.worker === 'worker process') {
    const migrated = await openBenchDatabase(databaseUrl)
    await migrated.db.close()
    worker = await startWorker(ragtimeEnv({ databaseUrl, smtpPort: sink.port }))
  }
  const inProcess = variant.worker === 'in-process' ? 'in-process' : 'none'
  const enqueuer = spawnBenchProcess('enqueue-steadily.ts', [databaseUrl, String(sink.port), String(messages), String(INTERVAL_MS), inProcess])
  try {
    const line = await withTimeout('the enqueuer', new Promise<string>((resolve) => stdoutLines(enqueuer).once('line', resolve)), 60_000)
    const { committedAt } = JSON.parse(line) as { committedAt: number[] }
    await sink.waitForAccepted(messages, 30_000)
    const accepted = await sink.recipients()
    return latencies(committedAt.map((at, i) => (accepted.get(benchAddress(i))?.firstAt ?? Number.NaN) - at))
  } finally {
    await stopProcess(enqueuer, 5_000)
    await worker?.stop()
  }
}

async function run({ quick }: BenchOptions) {
  const { messages, rounds } = quick ? SIZES.quick : SIZES.full
  const withPostgres = await postgresAnswers()
  const variants = [IN_PROCESS, ...(withPostgres ? [POSTGRES] : [])]
  const runs = new Map<Variant, Latencies[]>(variants.map((v) => [v, []]))
  await withSink({}, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const result = await measure(variant, messages, sink)
        runs.get(variant)!.push(result)
        console.log(`  round ${round + 1}  ${variant.label.padEnd(62)} p50 ${result.p50} ms  p99 ${result.p99} ms`)
      }
    }
  })
  const summaries = variants.map((variant) => {
    const results = runs.get(variant)!
    return { variant: variant.label, p50: summarize(results.map((r) => r.p50)), p99: summarize(results.map((r) => r.p99)), runs: results }
  })
  return {
    rows: summaries.map((s, i) => ({
      scenario: i === 0 ? `Enqueue → accepted by SMTP, one message every ${INTERVAL_MS} ms (${messages} messages, ${runsLabel(rounds)})` : '…',
      result: `${s.variant}: p50 ${withSpread(s.p50, ' ms')}, p99 ${withSpread(s.p99, ' ms')}`,
      baseline: '',
      ratio: '',
      target: '',
    })),
    details: { messages, intervalMs: INTERVAL_MS, rounds, variants: summaries },
    notes: withPostgres ? [] : ['Enqueue latency: no PostgreSQL server answered; its variant was skipped.'],
  }
}

export const enqueueLatency: Scenario = { id: 'latency', title: '3. Enqueue-to-accepted latency', run }
