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
/** How long the last email may take to arrive before the ones still missing are counted as such. */
const ARRIVAL_TIMEOUT_MS = 30_000

/** Percentiles over the emails that arrived, and how many never did (not folded into them). */
interface LatencyRun extends Latencies {
  readonly missing: number
}

/** " (3 missing)" when some never arrived: their percentiles are of the others only. */
const missingText = (missing: number): string => (missing > 0 ? ` (${missing} missing)` : '')

interface Variant {
  readonly label: string
  readonly database: 'sqlite' | 'postgres'
  readonly worker: 'in-process' | 'worker process'
}

const IN_PROCESS: Variant = { label: 'SQLite, worker in the enqueuing process (as in ragtime serve)', database: 'sqlite', worker: 'in-process' }
const POSTGRES: Variant = { label: 'PostgreSQL, separate ragtime worker (NOTIFY)', database: 'postgres', worker: 'worker process' }

async function measure(variant: Variant, messages: number, sink: Sink): Promise<LatencyRun> {
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
    // A timeout here is a result, not a failure: whatever has not arrived by then is missing.
    await sink.waitForAccepted(messages, ARRIVAL_TIMEOUT_MS).catch(() => undefined)
    const accepted = await sink.recipients()
    const samples: number[] = []
    let missing = 0
    committedAt.forEach((at, i) => {
      const firstAt = accepted.get(benchAddress(i))?.firstAt
      if (firstAt === undefined) missing++
      else samples.push(firstAt - at)
    })
    return { ...latencies(samples), missing }
  } finally {
    await stopProcess(enqueuer, 5_000)
    await worker?.stop()
  }
}

async function run({ quick }: BenchOptions) {
  const { messages, rounds } = quick ? SIZES.quick : SIZES.full
  const withPostgres = await postgresAnswers()
  const variants = [IN_PROCESS, ...(withPostgres ? [POSTGRES] : [])]
  const runs = new Map<Variant, LatencyRun[]>(variants.map((v) => [v, []]))
  await withSink({}, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const result = await measure(variant, messages, sink)
        runs.get(variant)!.push(result)
        const percentiles = result.count > 0 ? `p50 ${result.p50} ms  p99 ${result.p99} ms` : 'none arrived'
        console.log(`  round ${round + 1}  ${variant.label.padEnd(62)} ${percentiles}${missingText(result.missing)}`)
      }
    }
  })
  const summaries = variants.map((variant) => {
    const results = runs.get(variant)!
    // A run where nothing arrived has no percentiles (not 0 ms): it only counts as missing.
    const measured = results.filter((r) => r.count > 0)
    return {
      variant: variant.label,
      p50: measured.length > 0 ? summarize(measured.map((r) => r.p50)) : null,
      p99: measured.length > 0 ? summarize(measured.map((r) => r.p99)) : null,
      /** Over all runs: emails that never reached the sink within the timeout. */
      missing: results.reduce((sum, r) => sum + r.missing, 0),
      runs: results,
    }
  })
  return {
    rows: summaries.map((s, i) => ({
      scenario: i === 0 ? `Enqueue → accepted by SMTP, one message every ${INTERVAL_MS} ms (${messages} messages, ${runsLabel(rounds)})` : '…',
      result:
        `${s.variant}: ${s.p50 && s.p99 ? `p50 ${withSpread(s.p50, ' ms')}, p99 ${withSpread(s.p99, ' ms')}` : 'none arrived'}` +
        (s.missing > 0
          ? `; ${s.missing} of ${messages * rounds} missing (not accepted within ${ARRIVAL_TIMEOUT_MS / 1000} s; percentiles of the others)`
          : ''),
      baseline: '',
      ratio: '',
      target: '',
    })),
    details: { messages, intervalMs: INTERVAL_MS, rounds, arrivalTimeoutMs: ARRIVAL_TIMEOUT_MS, variants: summaries },
    notes: withPostgres ? [] : ['Enqueue latency: no PostgreSQL server answered; its variant was skipped.'],
  }
}

export const enqueueLatency: Scenario = { id: 'latency', title: '3. Enqueue-to-accepted latency', run }
