// 11. A deferring domain: sign-ups arrive steadily through `ragtime serve`, their addresses
// spread evenly over four domains, at a rate well within the SMTP server's. In one run the
// server answers `451 4.7.1 Try again later` to RCPT TO for one domain during a window; in the
// other (the baseline, same run, same load) it defers nothing. Measured: the other domains'
// lag (request start → accepted) from the window's start on, with the deferral against without,
// and whether all of the deferred domain's mail arrived after the window, and when.
import { CHEAP_PASSWORD_HASHING, ragtimeEnv, startServe } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { seconds, thousands } from '../lib/format.ts'
import { type Lags, lagPercentile, lagsOf, lagText } from '../lib/lag.ts'
import { signUpsSteadily } from '../lib/signup-load.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { ratio } from '../lib/stats.ts'
import { epochMs, sleep, until } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const DEFERRED = 'deferred.test'
const DOMAINS = ['one.test', 'two.test', 'three.test', DEFERRED] as const
/** 20 sign-ups a second: the server takes thousands. */
const INTERVAL_MS = 50
/** Sign-ups before the window and after it. */
const LEAD_MS = 5_000
const TAIL_MS = 5_000
const RATIO_TARGET = 1.2
/** With the default back-off, mail deferred from the window's start is retried within about 40 s of its end. */
const SIZES = { full: { windowMs: 60_000, recoveryTimeoutMs: 90_000 }, quick: { windowMs: 15_000, recoveryTimeoutMs: 60_000 } }

const address = (i: number): string => `user${i}@${DOMAINS[i % DOMAINS.length]}`
const isDeferred = (i: number): boolean => DOMAINS[i % DOMAINS.length] === DEFERRED

interface DomainRun {
  readonly deferral: boolean
  readonly signUps: number
  readonly failedSignUps: number
  /** The other domains, sign-ups from the window's start on. */
  readonly othersP50Ms: number | null
  readonly othersP99Ms: number | null
  readonly othersMissing: number
  /** The deferred domain: its emails, those that never arrived, and the last one's arrival after the window ended. */
  readonly deferredDomainEmails: number
  readonly deferredDomainMissing: number
  readonly deferredDomainLastAfterWindowMs: number | null
  readonly rcptAnswered451: number
  readonly duplicated: number
  /** From the window's end until the bench stopped waiting. */
  readonly waitedAfterWindowMs: number
}

async function measure(deferral: boolean, windowMs: number, recoveryTimeoutMs: number, sink: Sink): Promise<DomainRun> {
  await sink.reset()
  await sink.deferDomains([])
  const app = await startServe(ragtimeEnv({ databaseUrl: sqliteUrl(newSqliteFile('deferring')), smtpPort: sink.port, extra: CHEAP_PASSWORD_HASHING }))
  try {
    const signUps = (LEAD_MS + windowMs + TAIL_MS) / INTERVAL_MS
    const startedAt = epochMs()
    const window = { start: startedAt + LEAD_MS, end: startedAt + LEAD_MS + windowMs }
    // The window, on the bench's clock, while the sign-ups go on.
    const faults = (async () => {
      await sleep(window.start - epochMs())
      if (deferral) await sink.deferDomains([DEFERRED])
      window.start = epochMs()
      await sleep(window.end - epochMs())
      await sink.deferDomains([])
      window.end = epochMs()
    })()
    const [load] = await Promise.all([signUpsSteadily(signUps, INTERVAL_MS, app.baseUrl!, address), faults])
    const failed = new Set(load.failed)
    const expected = [...Array(signUps).keys()].filter((i) => !failed.has(i))
    let recipients = await sink.recipients()
    await until(
      'every email',
      async () => {
        recipients = await sink.recipients()
        return expected.every((i) => recipients.has(address(i)))
      },
      { timeoutMs: Math.max(0, window.end + recoveryTimeoutMs - epochMs()), everyMs: 500 },
    ).catch(() => undefined)
    const waitedAfterWindowMs = Math.round(epochMs() - window.end)
    const arrival = (to: string) => recipients.get(to)?.firstAt
    const inWindowOn = expected.filter((i) => load.startedAt[i]! >= window.start)
    const others: Lags = lagsOf(inWindowOn.filter((i) => !isDeferred(i)), load.startedAt, address, arrival)
    const deferredOnes = expected.filter(isDeferred)
    const deferredArrivals = deferredOnes.map((i) => arrival(address(i))).filter((at) => at !== undefined)
    const deferredMissing = deferredOnes.length - deferredArrivals.length
    return {
      deferral,
      signUps,
      failedSignUps: load.failed.length,
      othersP50Ms: lagPercentile(others, 50),
      othersP99Ms: lagPercentile(others, 99),
      othersMissing: others.missing,
      deferredDomainEmails: deferredOnes.length,
      deferredDomainMissing: deferredMissing,
      deferredDomainLastAfterWindowMs: deferredMissing === 0 ? Math.round(Math.max(...deferredArrivals) - window.end) : null,
      rcptAnswered451: (await sink.counts()).deferred,
      duplicated: expected.reduce((sum, i) => sum + Math.max(0, (recipients.get(address(i))?.count ?? 1) - 1), 0),
      waitedAfterWindowMs,
    }
  } finally {
    await app.stop()
  }
}

function othersText(r: DomainRun): string {
  const missing = r.othersMissing > 0 ? `, ${r.othersMissing} not arrived` : ''
  return `other domains p50 ${lagText(r.othersP50Ms, r.waitedAfterWindowMs)}, p99 ${lagText(r.othersP99Ms, r.waitedAfterWindowMs)}${missing}`
}

function deferredText(r: DomainRun): string {
  const all =
    r.deferredDomainLastAfterWindowMs !== null
      ? `all ${thousands(r.deferredDomainEmails)} delivered, the last ${seconds(r.deferredDomainLastAfterWindowMs)} after the window ended`
      : `${thousands(r.deferredDomainMissing)} of ${thousands(r.deferredDomainEmails)} NOT delivered ${seconds(r.waitedAfterWindowMs)} after the window ended`
  return `${all} (RCPT TO answered 451 ${thousands(r.rcptAnswered451)} times; twice ${r.duplicated})`
}

async function run({ quick }: BenchOptions) {
  const { windowMs, recoveryTimeoutMs } = quick ? SIZES.quick : SIZES.full
  const runs: DomainRun[] = []
  await withSink({}, async (sink) => {
    for (const deferral of [true, false]) {
      const result = await measure(deferral, windowMs, recoveryTimeoutMs, sink)
      runs.push(result)
      console.log(
        `  ${deferral ? `${DEFERRED} deferred` : 'nothing deferred'}: ${othersText(result)}; ` +
          (deferral ? deferredText(result) : `twice ${result.duplicated}`) +
          (result.failedSignUps > 0 ? `; ${result.failedSignUps} sign-ups failed` : ''),
      )
    }
  })
  const [withDeferral, without] = runs as [DomainRun, DomainRun]
  const p99Ratio = withDeferral.othersP99Ms !== null && without.othersP99Ms !== null ? ratio(withDeferral.othersP99Ms, without.othersP99Ms) : null
  const met = (ok: boolean) => (ok ? ': met' : ': not met')
  const setup =
    `${1000 / INTERVAL_MS} sign-ups/s to ${DOMAINS.length} domains evenly, ragtime serve, 451 to RCPT TO for ${DEFERRED} ` +
    `for ${seconds(windowMs)}, ${thousands(withDeferral.signUps)} sign-ups, 1 run each`
  return {
    rows: [
      {
        scenario: `Deferring domain: the other domains' lag (request → accepted), from the window's start (${setup})`,
        result: `${DEFERRED} deferred: ${othersText(withDeferral)}`,
        baseline: `nothing deferred: ${othersText(without)}`,
        ratio: p99Ratio === null ? 'p99: not all arrived: not met' : `p99 ×${p99Ratio}${met(p99Ratio <= RATIO_TARGET)}`,
        target: `≤ ${RATIO_TARGET}`,
      },
      {
        scenario: `… ${DEFERRED}'s mail after the window`,
        result: deferredText(withDeferral),
        baseline: '',
        ratio: withDeferral.deferredDomainMissing === 0 ? 'all delivered: met' : `not delivered: ${withDeferral.deferredDomainMissing}`,
        target: 'all delivered',
      },
    ],
    details: { domains: DOMAINS, deferred: DEFERRED, intervalMs: INTERVAL_MS, leadMs: LEAD_MS, windowMs, tailMs: TAIL_MS, recoveryTimeoutMs, othersP99Ratio: p99Ratio, runs },
    notes: [
      `Deferring domain: RAGTIME_PASSWORD_COST=10; default back-off, so the deferred domain's mail arrives at its retry slots after the window; ` +
        `the other domains' lag counts sign-ups from the window's start to the end of the run (retries of the deferred mail included).`,
    ],
  }
}

export const deferringDomain: Scenario = { id: 'deferring-domain', title: '11. A deferring domain', run }
