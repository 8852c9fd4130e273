// 6. SMTP outage: the SMTP server refuses connections for 30 s while users sign up, then comes
// back on the same port. Every email must be delivered; the measure is how long after the
// server came back the last one was.
import { CHEAP_PASSWORD_HASHING, ragtimeEnv, startServe, whenAllSent } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { seconds, thousands } from '../lib/format.ts'
import { runClients } from '../lib/load.ts'
import { signUp } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { tallyDeliveries } from '../lib/tally.ts'
import { epochMs, sleep } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const CLIENTS = 20
/** How long the bench waits after the server comes back: with the default back-off the last
 * retries of a 30 s outage come within ~80 s. */
const RECOVERY_TIMEOUT_MS = 180_000

interface Backoff {
  readonly label: string
  /** RAGTIME_MAIL_RETRY_FIRST / RAGTIME_MAIL_RETRY_MAX; none means the defaults (5 s, 5 min). */
  readonly env: Record<string, string>
}

const DEFAULTS: Backoff = { label: 'default back-off (first retry 5 s, doubling, cap 5 min)', env: {} }
const SHORT: Backoff = {
  label: 'SHORTENED back-off (first retry 1 s, cap 2 s; not the default)',
  env: { RAGTIME_MAIL_RETRY_FIRST: '1s', RAGTIME_MAIL_RETRY_MAX: '2s' },
}

const SIZES = {
  full: { signUps: 500, outageMs: 30_000, backoffs: [DEFAULTS] },
  quick: { signUps: 200, outageMs: 3_000, backoffs: [SHORT] },
}

interface OutageRun {
  readonly backoff: string
  readonly signUps: number
  /** As it happened: the planned outage, or longer if the sign-ups took longer. */
  readonly outageMs: number
  readonly delivered: number
  readonly lost: number
  readonly duplicated: number
  /** From the server coming back to the first copy of half the emails; null if fewer arrived. */
  readonly halfDeliveredAfterMs: number | null
  /** … and of all of them; null unless every one arrived. */
  readonly allDeliveredAfterMs: number | null
  /** From the server coming back until the app said all were sent, or the bench gave up waiting. */
  readonly waitedMs: number
  /** Whether the app said every email was sent within {@link RECOVERY_TIMEOUT_MS}. */
  readonly finished: boolean
}

/** "all 44.2 s after it came back (half: 8.0 s)", or "NOT all within 180.0 s of it coming back (half: …)". */
function recoveryText(r: OutageRun): string {
  const half = r.halfDeliveredAfterMs === null ? 'not even half' : `half: ${seconds(r.halfDeliveredAfterMs)}`
  if (r.allDeliveredAfterMs !== null) return `all ${seconds(r.allDeliveredAfterMs)} after it came back (${half})`
  return `NOT all within ${seconds(r.waitedMs)} of it coming back (${half})`
}

async function outageOnce(backoff: Backoff, signUps: number, outageMs: number, sink: Sink): Promise<OutageRun> {
  await sink.reset()
  const app = await startServe(
    ragtimeEnv({ databaseUrl: sqliteUrl(newSqliteFile('outage')), smtpPort: sink.port, extra: { ...CHEAP_PASSWORD_HASHING, ...backoff.env } }),
  )
  try {
    await sink.setMode('down')
    const downAt = epochMs()
    await runClients(signUps, CLIENTS, (i) => signUp(app.baseUrl!, i))
    await sleep(downAt + outageMs - epochMs())
    await sink.setMode('accept')
    const upAt = epochMs()
    const actualOutageMs = Math.round(upAt - downAt)
    let finished = true
    await whenAllSent(app.baseUrl!, signUps, RECOVERY_TIMEOUT_MS).catch(() => (finished = false))
    const waitedMs = Math.round(epochMs() - upAt)
    // The sink is the judge: "all" only if every sign-up's email reached it.
    const tally = tallyDeliveries(await sink.recipients(), signUps)
    const after = tally.firstArrivals.map((at) => at - upAt).sort((a, b) => a - b)
    const half = Math.ceil(signUps / 2)
    return {
      backoff: backoff.label,
      signUps,
      outageMs: actualOutageMs,
      delivered: tally.delivered,
      lost: tally.lost,
      duplicated: tally.duplicated,
      // Of all the sign-ups, not of those that arrived: when the ⌈n/2⌉-th first copy arrived.
      halfDeliveredAfterMs: after.length >= half ? Math.round(after[half - 1]!) : null,
      allDeliveredAfterMs: tally.delivered === signUps ? Math.round(after.at(-1)!) : null,
      waitedMs,
      finished,
    }
  } finally {
    await app.stop()
  }
}

async function run({ quick }: BenchOptions) {
  const { signUps, outageMs, backoffs } = quick ? SIZES.quick : SIZES.full
  const runs: OutageRun[] = []
  await withSink({}, async (sink) => {
    for (const backoff of backoffs) {
      const result = await outageOnce(backoff, signUps, outageMs, sink)
      runs.push(result)
      console.log(
        `  ${backoff.label}: ${result.delivered} of ${signUps} delivered (duplicated ${result.duplicated}); ${recoveryText(result)}` +
          (result.finished ? '' : ` (the app had NOT sent all within ${seconds(RECOVERY_TIMEOUT_MS)})`),
      )
    }
  })
  return {
    rows: runs.map((r) => ({
      scenario: `SMTP outage: server down ${seconds(r.outageMs)} during ${thousands(r.signUps)} sign-ups, then up (1 run; ${r.backoff})`,
      result: `${thousands(r.delivered)} of ${thousands(r.signUps)} delivered, duplicated ${r.duplicated}; ${recoveryText(r)}`,
      baseline: '',
      // If the app gave up before saying all were sent, the emails missing may be late, not lost.
      ratio: r.finished ? `lost: ${r.lost}` : `not delivered: ${r.lost}`,
      target: 'lost = 0',
    })),
    details: { clients: CLIENTS, recoveryTimeoutMs: RECOVERY_TIMEOUT_MS, runs },
    notes: [
      quick
        ? `SMTP outage (--quick): ${seconds(outageMs)} down with a SHORTENED back-off; the full run uses 30 s and the defaults.`
        : 'SMTP outage: measured with the default back-off, which is what users get; ' +
          'the time to recover is set by the retry schedule, not by the server.',
      'SMTP outage: RAGTIME_PASSWORD_COST=10 so sign-ups are not bound by hashing.',
    ],
  }
}

export const smtpOutage: Scenario = { id: 'outage', title: '6. SMTP outage', run }
