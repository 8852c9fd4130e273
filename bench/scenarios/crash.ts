// 5. Crash: sign-ups through `ragtime serve`, the process killed with SIGKILL while their
// confirmation emails are being delivered, then the same command restarted on the same
// database. Every sign-up must get its email (lost: 0); copies sent twice are counted.
import { CHEAP_PASSWORD_HASHING, freePort, ragtimeEnv, startServe, whenAllSent } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { inSeconds, runsLabel, seconds, thousands, withSpread } from '../lib/format.ts'
import { runClients } from '../lib/load.ts'
import { signUp } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { summarize } from '../lib/stats.ts'
import { tallyDeliveries } from '../lib/tally.ts'
import { epochMs } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const CLIENTS = 20
/** Until the kill: slower than sign-ups arrive, so that delivery is still in progress then. */
const SMTP_DELAY_MS = 50
/** Shorter than the default 30 s only so the bench does not wait: when the lease of the killed
 * process runs out, its claims are retried. */
const LEASE = '3s'
const SIZES = { full: { signUps: 2_000, rounds: 2 }, quick: { signUps: 200, rounds: 1 } }

interface CrashRun {
  readonly signUps: number
  readonly signUpsPerSecond: number
  readonly acceptedBeforeKill: number
  readonly lost: number
  readonly duplicated: number
  /** From the restart to the last sign-up's first email. */
  readonly recoveredMs: number
  readonly finished: boolean
}

async function crashOnce(signUps: number, sink: Sink): Promise<CrashRun> {
  await sink.reset()
  await sink.setDelay(SMTP_DELAY_MS)
  // The same command, port and database before and after the kill.
  const env = ragtimeEnv({
    databaseUrl: sqliteUrl(newSqliteFile('crash')),
    smtpPort: sink.port,
    extra: { ...CHEAP_PASSWORD_HASHING, PORT: String(await freePort()), RAGTIME_MAIL_LEASE: LEASE },
  })
  const first = await startServe(env)
  try {
    const signUpsStarted = performance.now()
    await runClients(signUps, CLIENTS, (i) => signUp(first.baseUrl!, i))
    const signUpsPerSecond = Math.round(signUps / ((performance.now() - signUpsStarted) / 1000))
    if ((await sink.counts()).accepted >= signUps) throw new Error('every email was delivered before the kill: slow the sink down')
    // Killed once half the mail went out: the rest is queued, claimed or in flight.
    await sink.waitForAccepted(Math.ceil(signUps / 2), 60_000)
    await first.kill()
    const acceptedBeforeKill = (await sink.counts()).accepted
    // From here on the sink answers at once: recovery is then bound by the lease, not by SMTP.
    await sink.setDelay(0)
    const restartedAt = epochMs()
    const second = await startServe(env)
    let finished = true
    try {
      await whenAllSent(second.baseUrl!, signUps, 120_000).catch(() => (finished = false))
    } finally {
      await second.stop()
    }
    const tally = tallyDeliveries(await sink.recipients(), signUps)
    return {
      signUps,
      signUpsPerSecond,
      acceptedBeforeKill,
      lost: tally.lost,
      duplicated: tally.duplicated,
      recoveredMs: Math.round(Math.max(...tally.firstArrivals) - restartedAt),
      finished,
    }
  } finally {
    await first.kill()
  }
}

async function run({ quick }: BenchOptions) {
  const { signUps, rounds } = quick ? SIZES.quick : SIZES.full
  const runs: CrashRun[] = []
  await withSink({}, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      const result = await crashOnce(signUps, sink)
      runs.push(result)
      console.log(
        `  round ${round + 1}  ${thousands(signUps)} sign-ups at ${result.signUpsPerSecond}/s; ` +
          `killed after ${thousands(result.acceptedBeforeKill)} of ${thousands(signUps)} accepted; ` +
          `lost ${result.lost}, duplicated ${result.duplicated}, all delivered ${seconds(result.recoveredMs)} after the restart` +
          (result.finished ? '' : ' (NOT all sent within 120 s)'),
      )
    }
  })
  const lost = summarize(runs.map((r) => r.lost))
  const duplicated = summarize(runs.map((r) => r.duplicated))
  const recovered = summarize(runs.map((r) => r.recoveredMs))
  return {
    rows: [
      {
        scenario: `Crash: ${thousands(signUps)} sign-ups, ragtime serve killed (SIGKILL) mid-delivery and restarted (${runsLabel(rounds)})`,
        result: `lost ${withSpread(lost)}, duplicated ${withSpread(duplicated)}; all delivered ${withSpread(recovered, ' s', inSeconds)} after the restart`,
        baseline: '',
        ratio: `lost: ${Math.max(...runs.map((r) => r.lost))}`,
        target: 'lost = 0',
      },
    ],
    details: { signUps, clients: CLIENTS, smtpDelayMs: SMTP_DELAY_MS, lease: LEASE, rounds, lost, duplicated, recoveredMs: recovered, runs },
    notes: [
      `Crash: RAGTIME_MAIL_LEASE=${LEASE} (default 30 s) so mail claimed by the killed process is retried sooner; ` +
        `RAGTIME_PASSWORD_COST=10 so sign-ups are not bound by hashing; ` +
        `the SMTP sink takes ${SMTP_DELAY_MS} ms per message until the kill, then answers at once.`,
    ],
  }
}

export const crash: Scenario = { id: 'crash', title: '5. Crash', run }
