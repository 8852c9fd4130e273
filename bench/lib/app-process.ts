// Ragtime itself, started the way a user starts it: `node bin/ragtime.js serve|worker`, in its
// own process, configured only through the environment (see DESIGN.md).
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import { spawnTracked, stopProcess, waitForExit } from './processes.ts'
import { until } from './time.ts'

const BIN = path.resolve(import.meta.dirname, '../../bin/ragtime.js')

/** Set in every bench app: long, fixed and not a secret (the bench is not a deployment). */
const BENCH_SECRET_KEY = 'bench-secret-key-bench-secret-key-0123456789'

/**
 * For scenarios about mail rather than hashing: the lowest password cost RAGTIME_PASSWORD_COST
 * allows (a knob for load tests), so that sign-ups are not bound by scrypt.
 */
export const CHEAP_PASSWORD_HASHING = { RAGTIME_PASSWORD_COST: '10' } as const

export interface RagtimeEnvOptions {
  databaseUrl: string
  smtpPort: number
  /** Extra variables, e.g. RAGTIME_MAIL_LEASE; they win over the bench's defaults. */
  extra?: Record<string, string>
}

/** The environment of a bench app: SMTP on the sink, rate limits off, quiet logs. */
export function ragtimeEnv({ databaseUrl, smtpPort, extra = {} }: RagtimeEnvOptions): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    MAIL_SERVER: '127.0.0.1',
    MAIL_PORT: String(smtpPort),
    RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
    SECRET_KEY: BENCH_SECRET_KEY,
    RAGTIME_RATE_LIMITS: 'off',
    RAGTIME_LOG_LEVEL: 'warn',
    ...extra,
  }
}

export interface RagtimeProcess {
  readonly child: ChildProcess
  /** `http://127.0.0.1:<port>` for `serve`; undefined for `worker`. */
  readonly baseUrl: string | undefined
  /** Ends it at once, as a crash would. */
  kill(): Promise<void>
  /** SIGTERM: the graceful shutdown users get. */
  stop(): Promise<void>
}

/**
 * The whole outbox by state, from the app's `/metrics` (its gauges are read from the database;
 * `/healthz` reports health only). The bench runs in development, where `/metrics` is open.
 */
export async function outboxStates(baseUrl: string): Promise<Record<string, number>> {
  const response = await fetch(`${baseUrl}/metrics`)
  if (!response.ok) throw new Error(`GET /metrics: ${response.status}`)
  const states: Record<string, number> = {}
  for (const [, state, value] of (await response.text()).matchAll(/^ragtime_mail_messages\{state="(\w+)"\} (\d+)$/gm)) {
    states[state!] = Number(value)
  }
  return states
}

/** Resolves once the app reports `count` messages sent (bounded by `timeoutMs`). */
export function whenAllSent(baseUrl: string, count: number, timeoutMs: number): Promise<void> {
  return until(`${count} messages sent`, async () => ((await outboxStates(baseUrl)).sent ?? 0) >= count, { timeoutMs, everyMs: 250 })
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (typeof address !== 'object' || !address) throw new Error('no free port')
  return address.port
}

function spawnRagtime(args: readonly string[], env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = spawnTracked(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  // Always drained (a full pipe would stall the app); the tail explains a failed start.
  let tail = ''
  child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4_000)))
  return { child, stderr: () => tail }
}

function handle(child: ChildProcess, baseUrl: string | undefined): RagtimeProcess {
  return {
    child,
    baseUrl,
    async kill() {
      child.kill('SIGKILL')
      await waitForExit(child, 5_000)
    },
    stop: () => stopProcess(child, 15_000),
  }
}

async function whileAlive(child: ChildProcess, stderr: () => string, ready: () => boolean | Promise<boolean>): Promise<void> {
  try {
    await until(
      'Ragtime to start',
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`)
        return ready()
      },
      { timeoutMs: 30_000, everyMs: 50 },
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`ragtime did not start: ${(err as Error).message}\n${stderr()}`, { cause: err })
  }
}

/** `ragtime serve` on a free port; resolves once GET /healthz answers 200. */
export async function startServe(env: Record<string, string>): Promise<RagtimeProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const { child, stderr } = spawnRagtime(['serve'], { HOST: '127.0.0.1', BASE_URL: baseUrl, ...env, PORT: String(port) })
  await whileAlive(child, stderr, async () => {
    const response = await fetch(`${baseUrl}/healthz`).catch(() => undefined)
    await response?.arrayBuffer()
    return response?.status === 200
  })
  return handle(child, baseUrl)
}

/** `ragtime worker`; resolves once it logged that it started. */
export async function startWorker(env: Record<string, string>): Promise<RagtimeProcess> {
  const { child, stderr } = spawnRagtime(['worker'], { ...env, RAGTIME_LOG_LEVEL: 'info' })
  let started = false
  child.stderr?.on('data', (chunk: Buffer) => (started ||= chunk.toString().includes('mail worker started')))
  await whileAlive(child, stderr, () => started)
  return handle(child, undefined)
}
