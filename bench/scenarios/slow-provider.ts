// 9. Slow provider: 2,000 sign-ups from 50 concurrent clients while the SMTP server takes 2 s
// per message (it answers the end of DATA after 2 s). Ragtime as users start it (`ragtime
// serve`: SQLite, the worker in the web process, RAGTIME_MAIL_MAX_CONNECTIONS at its default of
// 50) against what the Flask lesson does to keep sign-ups fast, a thread per email: a small Node
// server that answers at once and starts a send on a new nodemailer transport per sign-up,
// without awaiting it. For each: failed sign-ups, sign-up p99, mail lag (request start →
// accepted by the sink), time to drain, the most SMTP connections open at once at the sink,
// the server's peak RSS, and whether every sign-up's email arrived exactly once.
import path from 'node:path'
import { CHEAP_PASSWORD_HASHING, freePort, outboxStates, ragtimeEnv, startServe } from '../lib/app-process.ts'
import { newSqliteFile, sqliteUrl } from '../lib/databases.ts'
import { seconds, thousands } from '../lib/format.ts'
import { lagPercentile, lagsOf, lagText } from '../lib/lag.ts'
import { peakRssMb } from '../lib/peak-rss.ts'
import { spawnBenchProcess, stdoutLines, stopProcess } from '../lib/processes.ts'
import { type SignUpLoad, signUpsConcurrently } from '../lib/signup-load.ts'
import { benchAddress } from '../lib/signups.ts'
import { type Sink, withSink } from '../lib/sink.ts'
import { percentile, ratio } from '../lib/stats.ts'
import { epochMs, sleep, until, withTimeout } from '../lib/time.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const CLIENTS = 50
const SMTP_DELAY_MS = 2_000
const MAX_CONNECTIONS = 50
const LAG_RATIO_TARGET = 1.5
const RSS_TARGET_MB = 150
/** The bench stops waiting for mail once none arrived for this long with no connection open. */
const STALLED_MS = 10_000
/** How long after the last sign-up the bench waits for the mail (at 2 s per message and 50
 * connections, 2,000 need at least 80 s): what has not arrived by then is reported so. */
const SIZES = { full: { signUps: 2_000, drainTimeoutMs: 120_000 }, quick: { signUps: 400, drainTimeoutMs: 40_000 } }

interface PartyRun {
  readonly party: 'ragtime' | 'threadPerEmail'
  readonly signUps: number
  readonly failedSignUps: number
  readonly firstSignUpError: string | undefined
  readonly signUpP99Ms: number
  /** Request start → first copy accepted; null where the percentile falls on an email that never arrived. */
  readonly lagP50Ms: number | null
  readonly lagP99Ms: number | null
  /** Last email accepted − first request; null unless every accepted sign-up's email arrived. */
  readonly drainMs: number | null
  /** From the first request until the bench stopped waiting. */
  readonly waitedMs: number
  readonly delivered: number
  readonly lost: number
  readonly duplicated: number
  readonly peakConnections: number
  readonly peakRssMb: number | null
  readonly meanMessageBytes: number
  /** Ragtime: messages still in its outbox (queued, claimed or waiting for a retry) when the bench stopped waiting. */
  readonly stillQueued?: number
  /** The baseline's own count of sends that failed (the thread's exception). */
  readonly sendErrors?: { failed: number; firstError: string | undefined }
}

interface Server {
  readonly baseUrl: string
  readonly pid: number | undefined
  /** Messages not yet sent or dead, where the server keeps an outbox. */
  pending(): Promise<number | undefined>
  /** Stops it; the baseline then says how many of its sends failed. */
  stop(): Promise<PartyRun['sendErrors']>
}

/**
 * What `ragtime serve` runs, which its memory depends on: the compiled dist/, or the sources
 * through tsx when dist/ is missing or stale (bin/ragtime.js decides with scripts/dist-status.mjs).
 */
async function ragtimeRuns(): Promise<string> {
  const root = path.resolve(import.meta.dirname, '../..')
  try {
    const { distStale } = (await import(path.join(root, 'scripts/dist-status.mjs'))) as { distStale: (root: string) => string | undefined }
    const stale = distStale(root)
    return stale === undefined ? 'dist/' : `the sources through tsx (${stale})`
  } catch {
    return 'the sources through tsx'
  }
}

async function startRagtime(sink: Sink): Promise<Server> {
  const app = await startServe(
    ragtimeEnv({
      databaseUrl: sqliteUrl(newSqliteFile('slow-provider')),
      smtpPort: sink.port,
      extra: { ...CHEAP_PASSWORD_HASHING, RAGTIME_MAIL_MAX_CONNECTIONS: String(MAX_CONNECTIONS) },
    }),
  )
  const pending = async () => {
    const states = await outboxStates(app.baseUrl!)
    return Object.entries(states).reduce((sum, [state, n]) => sum + (state === 'sent' || state === 'dead' ? 0 : n), 0)
  }
  return { baseUrl: app.baseUrl!, pid: app.child.pid, pending, stop: async () => void (await app.stop()) }
}

async function startThreadPerEmail(sink: Sink): Promise<Server> {
  const httpPort = await freePort()
  const child = spawnBenchProcess('thread-per-email-server.ts', [String(sink.port), String(httpPort)])
  const lines = stdoutLines(child)
  const next = () => withTimeout('the thread-per-email server', new Promise<string>((resolve) => lines.once('line', resolve)), 30_000)
  await next()
  return {
    baseUrl: `http://127.0.0.1:${httpPort}`,
    pid: child.pid,
    pending: async () => undefined,
    async stop() {
      const outcome = next()
      await stopProcess(child, 10_000)
      return outcome.then((line) => JSON.parse(line) as { failed: number; firstError: string | undefined }).catch(() => undefined)
    },
  }
}

/** Waits for every accepted sign-up's email, until `deadline`, or until mail stopped coming with no connection open. */
async function waitForMail(sink: Sink, expected: number, deadline: number): Promise<void> {
  let last = { accepted: -1, at: epochMs() }
  await until(
    'the mail',
    async () => {
      const counts = await sink.counts()
      if (counts.accepted !== last.accepted) last = { accepted: counts.accepted, at: epochMs() }
      const stalled = epochMs() - last.at > STALLED_MS && counts.connections === 0
      return counts.accepted >= expected || stalled || epochMs() > deadline
    },
    { timeoutMs: deadline - epochMs() + 5_000, everyMs: 250 },
  )
}

async function measure(party: PartyRun['party'], signUps: number, drainTimeoutMs: number, sink: Sink): Promise<PartyRun> {
  await sink.reset()
  const server = party === 'ragtime' ? await startRagtime(sink) : await startThreadPerEmail(sink)
  let load: SignUpLoad
  let peakRss: number | null
  let sendErrors: PartyRun['sendErrors']
  let stillQueued: number | undefined
  try {
    load = await signUpsConcurrently(signUps, CLIENTS, server.baseUrl, benchAddress)
    await waitForMail(sink, signUps - load.failed.length, epochMs() + drainTimeoutMs)
    peakRss = peakRssMb(server.pid)
    stillQueued = await server.pending()
  } finally {
    sendErrors = await server.stop()
  }
  // A moment for the sink to see the connections of the stopped server close.
  await sleep(200)
  const counts = await sink.counts()
  const recipients = await sink.recipients()
  const failed = new Set(load.failed)
  const accepted = [...Array(signUps).keys()].filter((i) => !failed.has(i))
  const lags = lagsOf(accepted, load.startedAt, benchAddress, (address) => recipients.get(address)?.firstAt)
  const duplicated = accepted.reduce((sum, i) => sum + Math.max(0, (recipients.get(benchAddress(i))?.count ?? 1) - 1), 0)
  const firstRequest = Math.min(...load.startedAt)
  const lastArrival = Math.max(...accepted.map((i) => recipients.get(benchAddress(i))?.firstAt ?? 0))
  return {
    party,
    signUps,
    failedSignUps: load.failed.length,
    firstSignUpError: load.firstError,
    signUpP99Ms: Math.round(percentile(load.durations.filter((d) => !Number.isNaN(d)), 99)),
    lagP50Ms: lagPercentile(lags, 50),
    lagP99Ms: lagPercentile(lags, 99),
    drainMs: lags.missing === 0 ? Math.round(lastArrival - firstRequest) : null,
    waitedMs: Math.round(epochMs() - firstRequest),
    delivered: lags.samples.length,
    lost: lags.missing,
    duplicated,
    peakConnections: counts.peakConnections,
    peakRssMb: peakRss,
    meanMessageBytes: counts.accepted > 0 ? Math.round(counts.bytes / counts.accepted) : 0,
    ...(sendErrors ? { sendErrors } : {}),
    ...(stillQueued !== undefined ? { stillQueued } : {}),
  }
}

const LABELS = { ragtime: 'ragtime serve', threadPerEmail: 'thread per email' } as const

function describe(r: PartyRun): string {
  const queued = r.stillQueued !== undefined ? `, ${thousands(r.stillQueued)} still in the outbox` : ''
  const drain =
    r.drainMs === null
      ? `${thousands(r.lost)} of ${thousands(r.signUps - r.failedSignUps)} not arrived ${seconds(r.waitedMs)} after the first sign-up${queued}`
      : `drained in ${seconds(r.drainMs)}`
  return (
    `${LABELS[r.party]}: lag p50 ${lagText(r.lagP50Ms, r.waitedMs)}, p99 ${lagText(r.lagP99Ms, r.waitedMs)}; ${drain}; ` +
    `sign-up p99 ${thousands(r.signUpP99Ms)} ms, ${r.failedSignUps} failed`
  )
}

/** "lost 0, twice 0"; while mail is still coming, what had not arrived is not called lost. */
function onceText(r: PartyRun): string {
  if (r.drainMs !== null) return `lost ${r.lost}, twice ${r.duplicated}`
  const queued = r.stillQueued !== undefined ? ` (${thousands(r.stillQueued)} still in the outbox)` : ''
  return `${thousands(r.lost)} not arrived when the bench stopped waiting${queued}, twice ${r.duplicated}`
}

async function run({ quick }: BenchOptions) {
  const { signUps, drainTimeoutMs } = quick ? SIZES.quick : SIZES.full
  const runs: PartyRun[] = []
  const ran = await ragtimeRuns()
  await withSink({ delayMs: SMTP_DELAY_MS }, async (sink) => {
    for (const party of ['threadPerEmail', 'ragtime'] as const) {
      const result = await measure(party, signUps, drainTimeoutMs, sink)
      runs.push(result)
      console.log(
        `  ${describe(result)}; peak ${thousands(result.peakConnections)} connections, peak RSS ${result.peakRssMb ?? '?'} MB; ` +
          `${result.drainMs === null ? 'not arrived' : 'lost'} ${result.lost}, twice ${result.duplicated}` +
          (result.sendErrors?.failed ? `; ${result.sendErrors.failed} sends failed (${result.sendErrors.firstError})` : '') +
          (result.firstSignUpError ? `; first failed sign-up: ${result.firstSignUpError}` : ''),
      )
    }
  })
  const [baseline, ragtime] = runs as [PartyRun, PartyRun]
  const lagRatio = ragtime.lagP99Ms !== null && baseline.lagP99Ms !== null ? ratio(ragtime.lagP99Ms, baseline.lagP99Ms) : null
  const lagRatioText =
    lagRatio !== null ? `lag p99 ×${lagRatio}` : ragtime.lagP99Ms === null ? `lag p99 > ×${ratio(ragtime.waitedMs, baseline.lagP99Ms ?? 1)}` : 'lag p99: baseline not arrived'
  const met = (ok: boolean) => (ok ? ': met' : ': not met')
  const setup = `${thousands(signUps)} sign-ups, ${CLIENTS} clients, SMTP taking ${seconds(SMTP_DELAY_MS)} per message, 1 run each`
  return {
    rows: [
      {
        scenario: `Slow provider: mail lag (request → accepted) and drain (${setup})`,
        result: describe(ragtime),
        baseline: `${describe(baseline)} (a new nodemailer transport per sign-up, not awaited)`,
        ratio: lagRatioText + met(lagRatio !== null && lagRatio <= LAG_RATIO_TARGET),
        target: `≤ ${LAG_RATIO_TARGET}`,
      },
      {
        scenario: '… SMTP connections open at once at the server',
        result: `ragtime serve: ${thousands(ragtime.peakConnections)}`,
        baseline: `thread per email: ${thousands(baseline.peakConnections)}`,
        ratio: `${thousands(ragtime.peakConnections)}${met(ragtime.peakConnections <= MAX_CONNECTIONS)}`,
        target: `≤ ${MAX_CONNECTIONS}`,
      },
      {
        scenario: '… every sign-up’s email exactly once',
        result: `ragtime serve: ${onceText(ragtime)}`,
        baseline: `thread per email: ${onceText(baseline)}`,
        ratio: ragtime.drainMs === null ? `not arrived ${ragtime.lost}, twice ${ragtime.duplicated}` : `lost ${ragtime.lost}, twice ${ragtime.duplicated}`,
        target: 'lost = 0, twice = 0',
      },
      {
        scenario: '… peak RSS of the server process (VmHWM)',
        result: `ragtime serve: ${ragtime.peakRssMb ?? '?'} MB (running ${ran})`,
        baseline: `thread per email: ${baseline.peakRssMb ?? '?'} MB`,
        ratio: `${ragtime.peakRssMb ?? '?'} MB${met(ragtime.peakRssMb !== null && ragtime.peakRssMb <= RSS_TARGET_MB)}`,
        target: `≤ ${RSS_TARGET_MB} MB`,
      },
    ],
    details: { signUps, clients: CLIENTS, smtpDelayMs: SMTP_DELAY_MS, maxConnections: MAX_CONNECTIONS, drainTimeoutMs, ragtimeRan: ran, lagP99Ratio: lagRatio, runs },
    notes: [
      'Slow provider: RAGTIME_PASSWORD_COST=10 so sign-ups are not bound by hashing (the baseline hashes nothing and stores nothing); ' +
        `mail still arriving ${seconds(drainTimeoutMs)} after the last sign-up is reported as not arrived, and a percentile that falls on it as "> the time waited".`,
    ],
  }
}

export const slowProvider: Scenario = { id: 'slow-provider', title: '9. Slow provider: a burst of sign-ups, SMTP taking 2 s per message', run }
