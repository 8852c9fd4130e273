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
/** How long the restarted app gets to send everything. */
const RECOVERY_TIMEOUT_MS = 120_000

interface CrashRun {
  readonly signUps: number
  readonly signUpsPerSecond: number
  readonly acceptedBeforeKill: number
  /** Sign-ups with at least one email at the sink when the bench stopped waiting. */
  readonly delivered: number
  /** Sign-ups with none then: lost, or still not delivered when the bench stopped waiting. */
  readonly lost: number
  readonly duplicated: number
  /** From the restart to the last sign-up's first email; null unless every sign-up got one. */
  readonly recoveredMs: number | null
  /** From the restart until the app said all were sent, or the bench gave up waiting. */
  readonly waitedMs: number
  /** Whether the app said every email was sent within {@link RECOVERY_TIMEOUT_MS}. */
  readonly finished: boolean
}

/** "all delivered 2.9 s after the restart", or "1,990 of 2,000 delivered within 120.0 s of the restart". */
function recoveryText(r: CrashRun): string {
  if (r.recoveredMs !== null) return `all delivered ${seconds(r.recoveredMs)} after the restart`
  return `${thousands(r.delivered)} of ${thousands(r.signUps)} delivered within ${seconds(r.waitedMs)} of the restart`
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
    let waitedMs: number
    try {
      await whenAllSent(second.baseUrl!, signUps, RECOVERY_TIMEOUT_MS).catch(() => (finished = false))
      waitedMs = Math.round(epochMs() - restartedAt)
    } finally {
      await second.stop()
    }
    // The sink is the judge: "all delivered" only if every sign-up's email reached it.
    const tally = tallyDeliveries(await sink.recipients(), signUps)
    const allDelivered = tally.delivered === signUps
    return {
      signUps,
      signUpsPerSecond,
      acceptedBeforeKill,
      delivered: tally.delivered,
      lost: tally.lost,
      duplicated: tally.duplicated,
      recoveredMs: allDelivered ? Math.round(Math.max(...tally.firstArrivals) - restartedAt) : null,
      waitedMs,
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
          `${result.finished ? 'lost' : 'not delivered'} ${result.lost}, duplicated ${result.duplicated}; ${recoveryText(result)}` +
          (result.finished ? '' : ` (NOT all sent within ${seconds(RECOVERY_TIMEOUT_MS)})`),
      )
    }
  })
  const lost = summarize(runs.map((r) => r.lost))
  const duplicated = summarize(runs.map((r) => r.duplicated))
  const delivered = summarize(runs.map((r) => r.delivered))
  // The time to recover only over runs where every email arrived; the others say how many did.
  const complete = runs.flatMap((r) => (r.recoveredMs === null ? [] : [r.recoveredMs]))
  const recovered = complete.length > 0 ? summarize(complete) : null
  const incomplete = runs.length - complete.length
  const recovery =
    incomplete === 0 && recovered
      ? `all delivered ${withSpread(recovered, ' s', inSeconds)} after the restart`
      : runs.length === 1
        ? recoveryText(runs[0]!)
        : `NOT all delivered in ${incomplete} of ${runs.length} runs: ${withSpread(delivered)} of ${thousands(signUps)} delivered ` +
          `within ${seconds(RECOVERY_TIMEOUT_MS)} of the restart` +
          (recovered ? `; in the others, all ${withSpread(recovered, ' s', inSeconds)} after it` : '')
  const missing = Math.max(...runs.map((r) => r.lost))
  // If the app gave up before saying all were sent, the emails missing may be late, not lost.
  const allFinished = runs.every((r) => r.finished)
  return {
    rows: [
      {
        scenario: `Crash: ${thousands(signUps)} sign-ups, ragtime serve killed (SIGKILL) mid-delivery and restarted (${runsLabel(rounds)})`,
        result: `${allFinished ? 'lost' : 'not delivered (lost or late)'} ${withSpread(lost)}, duplicated ${withSpread(duplicated)}; ${recovery}`,
        baseline: '',
        ratio: allFinished ? `lost: ${missing}` : `not delivered: ${missing}`,
        target: 'lost = 0',
      },
    ],
    details: {
      signUps,
      clients: CLIENTS,
      smtpDelayMs: SMTP_DELAY_MS,
      lease: LEASE,
      rounds,
      recoveryTimeoutMs: RECOVERY_TIMEOUT_MS,
      delivered,
      lost,
      duplicated,
      recoveredMs: recovered,
      runsNotAllDelivered: incomplete,
      runs,
    },
    notes: [
      `Crash: RAGTIME_MAIL_LEASE=${LEASE} (default 30 s) so mail claimed by the killed process is retried sooner; ` +
        `RAGTIME_PASSWORD_COST=10 so sign-ups are not bound by hashing; ` +
        `the SMTP sink takes ${SMTP_DELAY_MS} ms per message until the kill, then answers at once.`,
    ],
  }
}

export const crash: Scenario = { id: 'crash', title: '5. Crash', run }
