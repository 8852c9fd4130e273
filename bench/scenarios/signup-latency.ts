// 1. Sign-up latency: JSON POST /auth/register from 20 concurrent clients, with an SMTP server
// that takes 2 s per message, through the outbox and with the email sent inline, against the
// outbox with a server that answers at once. Every variant, the baseline included, runs the
// sign-up server with RAGTIME_PASSWORD_COST unset: password hashing at the default cost.
import { loadConfig } from '../../src/config/index.ts'
import { freePort } from '../lib/app-process.ts'
import { newSqliteFile } from '../lib/databases.ts'
import { runsLabel, thousands } from '../lib/format.ts'
import { runClients } from '../lib/load.ts'
import { spawnBenchProcess, stdoutLines, stopProcess } from '../lib/processes.ts'
import { signUp } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { type Latencies, latencies, ratio, summarize } from '../lib/stats.ts'
import { withTimeout } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const CLIENTS = 20
const SLOW_SMTP_MS = 2_000
/** What bench/processes/signup-server.ts gets, since it leaves RAGTIME_PASSWORD_COST unset. */
const DEFAULT_PASSWORD_COST = loadConfig({}).passwordCost
const SIZES = { full: { signUps: 120, rounds: 2 }, quick: { signUps: 20, rounds: 1 } }

interface Variant {
  readonly key: 'outboxSlowSmtp' | 'inlineSlowSmtp' | 'outboxInstantSmtp'
  readonly label: string
  readonly mode: 'outbox' | 'inline'
  readonly smtpDelayMs: number
}

const VARIANTS: readonly Variant[] = [
  { key: 'outboxSlowSmtp', label: 'outbox, SMTP takes 2 s', mode: 'outbox', smtpDelayMs: SLOW_SMTP_MS },
  { key: 'inlineSlowSmtp', label: 'email sent inline, SMTP takes 2 s', mode: 'inline', smtpDelayMs: SLOW_SMTP_MS },
  { key: 'outboxInstantSmtp', label: 'outbox, SMTP answers at once', mode: 'outbox', smtpDelayMs: 0 },
]

async function measure(variant: Variant, signUps: number, sink: Sink): Promise<Latencies> {
  await sink.setDelay(variant.smtpDelayMs)
  const httpPort = await freePort()
  const server = spawnBenchProcess('signup-server.ts', [variant.mode, String(sink.port), String(httpPort), newSqliteFile('signup')])
  try {
    await withTimeout('the sign-up server', new Promise((resolve) => stdoutLines(server).once('line', resolve)), 30_000)
    const durations = await runClients(signUps, CLIENTS, (i) => signUp(`http://127.0.0.1:${httpPort}`, i))
    return latencies(durations)
  } finally {
    await stopProcess(server, 5_000)
  }
}

async function run({ quick }: BenchOptions) {
  const { signUps, rounds } = quick ? SIZES.quick : SIZES.full
  const runs = new Map<Variant['key'], Latencies[]>(VARIANTS.map((v) => [v.key, []]))
  await withSink({}, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      // A different variant first in each round: this machine is noisy.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!)
      for (const variant of order) {
        const result = await measure(variant, signUps, sink)
        runs.get(variant.key)!.push(result)
        console.log(`  round ${round + 1}  ${variant.label.padEnd(36)} p50 ${result.p50} ms  p95 ${result.p95} ms  p99 ${result.p99} ms`)
      }
    }
  })
  const summary = (key: Variant['key']) => {
    const results = runs.get(key)!
    return {
      p50: summarize(results.map((r) => r.p50)),
      p95: summarize(results.map((r) => r.p95)),
      p99: summarize(results.map((r) => r.p99)),
      runs: results,
    }
  }
  const outbox = summary('outboxSlowSmtp')
  const inline = summary('inlineSlowSmtp')
  const instant = summary('outboxInstantSmtp')
  const p99Ratio = ratio(outbox.p99.median, instant.p99.median)
  const inlineRatio = ratio(inline.p99.median, instant.p99.median)
  const text = (s: typeof outbox) =>
    `${thousands(s.p50.median)} / ${thousands(s.p95.median)} / ${thousands(s.p99.median)} ms` +
    (rounds > 1 ? ` (p99 ${thousands(s.p99.min)}–${thousands(s.p99.max)})` : '')
  const setup = `${signUps} sign-ups, ${CLIENTS} clients, ${runsLabel(rounds)}`
  return {
    rows: [
      {
        scenario: `Sign-up p50 / p95 / p99, SMTP taking 2 s (${setup})`,
        result: `outbox: ${text(outbox)}`,
        baseline: `outbox, SMTP answering at once: ${text(instant)}`,
        ratio: `p99 ×${p99Ratio}`,
        target: '≤ 1.10',
      },
      {
        scenario: '… the same sign-up with the email sent inline and awaited',
        result: `inline: ${text(inline)}`,
        baseline: 'the outbox, SMTP answering at once (above)',
        ratio: `p99 ×${inlineRatio}`,
        target: '',
      },
    ],
    details: {
      signUps,
      clients: CLIENTS,
      rounds,
      slowSmtpDelayMs: SLOW_SMTP_MS,
      outboxSlowSmtp: outbox,
      inlineSlowSmtp: inline,
      outboxInstantSmtp: instant,
      p99Ratio,
      inlineP99Ratio: inlineRatio,
      passwordCost: DEFAULT_PASSWORD_COST,
    },
    notes: [
      `Sign-up latency: password hashing at the default cost (scrypt N = 2^${DEFAULT_PASSWORD_COST}), as users get it, ` +
        'in every variant, the baseline included.',
    ],
  }
}

export const signupLatency: Scenario = { id: 'signup', title: '1. Sign-up latency', run }
