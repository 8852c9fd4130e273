// 10. Throttling relay: an SMTP server that answers the end of DATA with `454 4.7.0 Throttling
// failure: Maximum sending rate exceeded` (as Amazon SES does) once it accepted R messages in
// the last second, and a backlog queued beforehand, drained by `ragtime worker`: with default
// settings (no RAGTIME_MAIL_RATE: the worker has to find the limit itself), and told the limit
// (RAGTIME_MAIL_RATE=R/s). Measured after the first 10 s: the rate delivered, as a share of R,
// and the share of attempts answered 454. The baseline is the relay's own limit, R.
import { copyFileSync } from 'node:fs'
import { ragtimeEnv, startWorker } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { seconds, thousands } from '../lib/format.ts'
import { prepareQueue } from '../lib/prepare-queue.ts'
import { type Sink, type SinkCounts, withSink } from '../lib/sink.ts'
import { ratio } from '../lib/stats.ts'
import { epochMs, sleep } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

/** The relay's limit, messages per second: far below what the worker sends on this machine (thousands a second). */
const RATE = 100
const WARM_UP_MS = 10_000
const RATE_TARGET = 0.9
const DEFERRED_TARGET = 0.05
/** The backlog outlasts the run even at the full rate. */
const SIZES = { full: { durationMs: 40_000, backlog: 6_000 }, quick: { durationMs: 15_000, backlog: 2_500 } }

interface Variant {
  readonly key: 'learns' | 'told'
  readonly label: string
  readonly env: Record<string, string>
}

const VARIANTS: readonly Variant[] = [
  { key: 'learns', label: 'default settings (no RAGTIME_MAIL_RATE: it must find the limit)', env: {} },
  { key: 'told', label: `RAGTIME_MAIL_RATE=${RATE}/s`, env: { RAGTIME_MAIL_RATE: `${RATE}/s` } },
]

interface ThrottleRun {
  readonly variant: string
  /** Accepted per second after the warm-up. */
  readonly deliveredPerSecond: number
  readonly rateRatio: number
  /** Attempts (ends of DATA) per second after the warm-up. */
  readonly attemptsPerSecond: number
  /** Of the attempts after the warm-up, the share answered 454. */
  readonly deferredShare: number
  readonly acceptedInWarmUp: number
  /** Per second of the run: [accepted, answered 454]. */
  readonly perSecond: readonly (readonly [number, number])[]
}

async function measure(variant: Variant, queue: string, durationMs: number, sink: Sink): Promise<ThrottleRun> {
  const file = newSqliteFile('throttle')
  copyFileSync(queue, file)
  await sink.reset()
  const worker = await startWorker(ragtimeEnv({ databaseUrl: sqliteUrl(file), smtpPort: sink.port, extra: variant.env }))
  const samples: { at: number; counts: SinkCounts }[] = []
  try {
    const startedAt = epochMs()
    for (let second = 0; second <= durationMs / 1000; second++) {
      await sleep(startedAt + second * 1000 - epochMs())
      samples.push({ at: epochMs(), counts: await sink.counts() })
    }
  } finally {
    await worker.stop()
  }
  const warmUp = samples[WARM_UP_MS / 1000]!
  const end = samples.at(-1)!
  const elapsed = (end.at - warmUp.at) / 1000
  const accepted = end.counts.accepted - warmUp.counts.accepted
  const attempts = end.counts.offered - warmUp.counts.offered
  const deliveredPerSecond = Math.round(accepted / elapsed)
  return {
    variant: variant.label,
    deliveredPerSecond,
    rateRatio: ratio(deliveredPerSecond, RATE),
    attemptsPerSecond: Math.round(attempts / elapsed),
    deferredShare: attempts > 0 ? Number(((end.counts.throttled - warmUp.counts.throttled) / attempts).toFixed(3)) : 0,
    acceptedInWarmUp: warmUp.counts.accepted,
    perSecond: samples.slice(1).map((s, i) => [s.counts.accepted - samples[i]!.counts.accepted, s.counts.throttled - samples[i]!.counts.throttled] as const),
  }
}

const percent = (share: number): string => `${(share * 100).toFixed(1)} %`

async function run({ quick }: BenchOptions) {
  const { durationMs, backlog } = quick ? SIZES.quick : SIZES.full
  const queue = newSqliteFile('throttle-queue')
  await prepareQueue(queue, backlog)
  const runs: ThrottleRun[] = []
  await withSink({}, async (sink) => {
    await sink.setThrottle(RATE)
    for (const variant of VARIANTS) {
      const result = await measure(variant, queue, durationMs, sink)
      runs.push(result)
      console.log(
        `  ${variant.label}: after ${seconds(WARM_UP_MS)}: ${thousands(result.deliveredPerSecond)}/s delivered (×${result.rateRatio} of ${RATE}/s), ` +
          `${thousands(result.attemptsPerSecond)} attempts/s, ${percent(result.deferredShare)} answered 454`,
      )
    }
  })
  const met = (ok: boolean) => (ok ? ': met' : ': not met')
  const setup = `${thousands(backlog)} queued, ragtime worker, ${seconds(durationMs)}, measured after the first ${seconds(WARM_UP_MS)}, 1 run`
  return {
    rows: runs.flatMap((r, i) => [
      {
        scenario: i === 0 ? `Throttling relay: 454 Throttling failure above ${RATE}/s (${setup}): delivered rate` : `… told the limit: delivered rate`,
        result: `${r.variant}: ${thousands(r.deliveredPerSecond)}/s`,
        baseline: `the relay's limit: ${RATE}/s`,
        ratio: `×${r.rateRatio}${met(r.rateRatio >= RATE_TARGET)}`,
        target: `≥ ${RATE_TARGET}`,
      },
      {
        scenario: '… attempts answered 454',
        result: `${r.variant}: ${percent(r.deferredShare)} of ${thousands(r.attemptsPerSecond)} attempts/s`,
        baseline: '',
        ratio: `${percent(r.deferredShare)}${met(r.deferredShare < DEFERRED_TARGET)}`,
        target: `< ${percent(DEFERRED_TARGET)}`,
      },
    ]),
    details: { ratePerSecond: RATE, backlog, durationMs, warmUpMs: WARM_UP_MS, runs },
    notes: [
      `Throttling relay: the sink answers 454 at the end of DATA (as SES does) while ${RATE} messages were accepted in the last second (a sliding window); ` +
        'attempts are ends of DATA; per-second counts of both runs are in latest.json.',
    ],
  }
}

export const throttle: Scenario = { id: 'throttle', title: '10. Throttling relay', run }
