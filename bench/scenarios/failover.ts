// 12. Failover: `ragtime serve` with MAIL_FALLBACK_SERVER set to a second SMTP server; sign-ups
// arrive steadily while the primary server is down (its listener closed: connections refused)
// for 60 s, then back on the same port. Measured: the lag (request start → accepted, by either
// server) of the mail of sign-ups made during the outage, whether every email arrived and none
// twice (Message-IDs counted across both servers), and when mail went back to the primary.
import { CHEAP_PASSWORD_HASHING, ragtimeEnv, startServe } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { seconds, thousands } from '../lib/format.ts'
import { lagPercentile, lagsOf, lagText } from '../lib/lag.ts'
import { signUpsSteadily } from '../lib/signup-load.ts'
import { benchAddress } from '../lib/signups.ts'
import { type RecipientTally, type Sink, withSink } from '../lib/sink.ts'
import { epochMs, sleep, until } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const INTERVAL_MS = 50
const LEAD_MS = 5_000
/** Lag target during the outage, beyond detection (which, for refused connections, is the first attempt: milliseconds; docs/outbox.md, "Failover"). */
const LAG_TARGET_MS = 2_000
/** After the primary is back: the breaker's cool-down (10 s, doubling per failed probe: 10, 20, 40 s…) sets when the probe goes to it. */
const SIZES = { full: { outageMs: 60_000, tailMs: 30_000 }, quick: { outageMs: 15_000, tailMs: 25_000 } }
const ARRIVAL_TIMEOUT_MS = 60_000

interface FailoverRun {
  readonly signUps: number
  readonly failedSignUps: number
  readonly outageMs: number
  readonly duringOutage: number
  readonly lagP50Ms: number | null
  readonly lagP99Ms: number | null
  readonly lagMaxMs: number | null
  /** From the primary going down to the first email accepted by the fallback. */
  readonly firstViaFallbackMs: number | null
  /** From the primary coming back to the first email it accepted again. */
  readonly backToPrimaryMs: number | null
  readonly viaPrimary: number
  readonly viaFallback: number
  readonly lost: number
  /** Message-IDs seen over both servers (as many as emails delivered, unless a header went unread). */
  readonly distinctMessageIds: number
  /** Copies beyond the first, per Message-ID over both servers. */
  readonly twiceByMessageId: number
  /** … and per recipient (each sign-up has an address of its own). */
  readonly twiceByRecipient: number
  readonly waitedMs: number
}

async function measure(outageMs: number, tailMs: number, primary: Sink, fallback: Sink): Promise<FailoverRun> {
  const app = await startServe(
    ragtimeEnv({
      databaseUrl: sqliteUrl(newSqliteFile('failover')),
      smtpPort: primary.port,
      extra: { ...CHEAP_PASSWORD_HASHING, MAIL_FALLBACK_SERVER: '127.0.0.1', MAIL_FALLBACK_PORT: String(fallback.port) },
    }),
  )
  try {
    const signUps = (LEAD_MS + outageMs + tailMs) / INTERVAL_MS
    const startedAt = epochMs()
    const outage = { down: startedAt + LEAD_MS, up: startedAt + LEAD_MS + outageMs }
    const faults = (async () => {
      await sleep(outage.down - epochMs())
      await primary.setMode('down')
      outage.down = epochMs()
      await sleep(outage.up - epochMs())
      await primary.setMode('accept')
      outage.up = epochMs()
    })()
    const [load] = await Promise.all([signUpsSteadily(signUps, INTERVAL_MS, app.baseUrl!, benchAddress), faults])
    const failed = new Set(load.failed)
    const expected = [...Array(signUps).keys()].filter((i) => !failed.has(i))
    let viaPrimary = new Map<string, RecipientTally>()
    let viaFallback = new Map<string, RecipientTally>()
    await until(
      'every email',
      async () => {
        ;[viaPrimary, viaFallback] = await Promise.all([primary.recipients(), fallback.recipients()])
        return expected.every((i) => viaPrimary.has(benchAddress(i)) || viaFallback.has(benchAddress(i)))
      },
      { timeoutMs: ARRIVAL_TIMEOUT_MS, everyMs: 500 },
    ).catch(() => undefined)
    const waitedMs = Math.round(epochMs() - outage.up)
    const firstAt = (to: string) => {
      const times = [viaPrimary.get(to)?.firstAt, viaFallback.get(to)?.firstAt].filter((at) => at !== undefined)
      return times.length > 0 ? Math.min(...times) : undefined
    }
    const all = lagsOf(expected, load.startedAt, benchAddress, firstAt)
    const during = lagsOf(
      expected.filter((i) => load.startedAt[i]! >= outage.down && load.startedAt[i]! < outage.up),
      load.startedAt,
      benchAddress,
      firstAt,
    )
    const ids = new Map<string, number>()
    for (const sink of [primary, fallback]) for (const [id, n] of await sink.messageIds()) ids.set(id, (ids.get(id) ?? 0) + n)
    const copies = (to: string) => (viaPrimary.get(to)?.count ?? 0) + (viaFallback.get(to)?.count ?? 0)
    const earliest = (tallies: Map<string, RecipientTally>, after: number) => {
      const times = [...tallies.values()].map((t) => t.firstAt).filter((at) => at >= after)
      return times.length > 0 ? Math.round(Math.min(...times) - after) : null
    }
    return {
      signUps,
      failedSignUps: load.failed.length,
      outageMs: Math.round(outage.up - outage.down),
      duringOutage: during.samples.length + during.missing,
      lagP50Ms: lagPercentile(during, 50),
      lagP99Ms: lagPercentile(during, 99),
      lagMaxMs: lagPercentile(during, 100),
      firstViaFallbackMs: earliest(viaFallback, outage.down),
      // Only mail first accepted after the primary came back, by the primary: a later copy would not show in firstAt.
      backToPrimaryMs: earliest(viaPrimary, outage.up),
      viaPrimary: viaPrimary.size,
      viaFallback: viaFallback.size,
      lost: all.missing,
      distinctMessageIds: ids.size,
      twiceByMessageId: [...ids.values()].reduce((sum, n) => sum + n - 1, 0),
      twiceByRecipient: expected.reduce((sum, i) => sum + Math.max(0, copies(benchAddress(i)) - 1), 0),
      waitedMs,
    }
  } finally {
    await app.stop()
  }
}

async function run({ quick }: BenchOptions) {
  const { outageMs, tailMs } = quick ? SIZES.quick : SIZES.full
  const r = await withSink({}, (primary) => withSink({}, (fallback) => measure(outageMs, tailMs, primary, fallback)))
  const lagLine = `lag p50 ${lagText(r.lagP50Ms, r.waitedMs)}, p99 ${lagText(r.lagP99Ms, r.waitedMs)}, max ${lagText(r.lagMaxMs, r.waitedMs)}`
  const back = r.backToPrimaryMs === null ? `mail NOT back on the primary ${seconds(tailMs)} after it came back` : `back on the primary ${seconds(r.backToPrimaryMs)} after it came back`
  const detection = r.firstViaFallbackMs === null ? 'nothing via the fallback' : `first via the fallback ${thousands(r.firstViaFallbackMs)} ms after the primary went down`
  console.log(
    `  outage ${seconds(r.outageMs)}: ${r.duringOutage} sign-ups during it, ${lagLine}; ${detection}; ${back}; ` +
      `lost ${r.lost}, twice ${r.twiceByMessageId} (by Message-ID), ${r.twiceByRecipient} (by recipient); ` +
      `${thousands(r.viaPrimary)} via the primary, ${thousands(r.viaFallback)} via the fallback` +
      (r.failedSignUps > 0 ? `; ${r.failedSignUps} sign-ups failed` : ''),
  )
  const setup = `${1000 / INTERVAL_MS} sign-ups/s through ragtime serve, ${thousands(r.signUps)} in all, the primary refusing connections for ${seconds(r.outageMs)}, 1 run`
  const met = (ok: boolean) => (ok ? ': met' : ': not met')
  return {
    rows: [
      {
        scenario: `Failover to MAIL_FALLBACK_SERVER: lag (request → accepted) of the ${thousands(r.duringOutage)} sign-ups during the outage (${setup})`,
        result: `${lagLine}; ${detection}`,
        baseline: '',
        ratio: `p99 ${lagText(r.lagP99Ms, r.waitedMs)}${met(r.lagP99Ms !== null && r.lagP99Ms <= LAG_TARGET_MS)}`,
        target: `p99 ≤ ${seconds(LAG_TARGET_MS)} + detection (refused connections: the first attempt)`,
      },
      {
        scenario: '… every email once, across both servers',
        result: `lost ${r.lost}; twice ${r.twiceByMessageId} by Message-ID (${r.twiceByRecipient} by recipient); ${thousands(r.viaPrimary)} via the primary, ${thousands(r.viaFallback)} via the fallback`,
        baseline: '',
        ratio: `lost ${r.lost}, twice ${r.twiceByMessageId}`,
        target: 'lost = 0, twice = 0',
      },
      {
        scenario: '… when mail went back to the primary',
        result: back,
        baseline: '',
        ratio: '',
        target: 'the first probe after it is back (cool-down 10 s, doubling per failed probe)',
      },
    ],
    details: { intervalMs: INTERVAL_MS, leadMs: LEAD_MS, plannedOutageMs: outageMs, tailMs, lagTargetMs: LAG_TARGET_MS, run: r },
    notes: ['Failover: RAGTIME_PASSWORD_COST=10; the primary SMTP server closes its listener (and its connections) for the outage and listens again on the same port.'],
  }
}

export const failover: Scenario = { id: 'failover', title: '12. Failover to a second SMTP server', run }
