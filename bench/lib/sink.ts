// The bench's handle on an SMTP sink process (bench/processes/smtp-sink.ts): start it, change
// its delay or fault mode, take it down and up again on the same port, and read what it got.
import type { ChildProcess } from 'node:child_process'
import { spawnBenchProcess, stdoutLines, stopProcess } from './processes.ts'
import { withTimeout } from './time.ts'

/** accept: answer 250; tempfail: answer 451 (a transient failure); down: refuse connections. */
export type SinkMode = 'accept' | 'tempfail' | 'down'

export interface SinkCounts {
  readonly offered: number
  readonly accepted: number
  readonly rejected: number
  /** Of the rejected: answered 454 by the throttle. */
  readonly throttled: number
  /** RCPT TO answered 451 for a deferred domain. */
  readonly deferred: number
  /** Bytes of the messages accepted. */
  readonly bytes: number
  /** TCP connections open now. */
  readonly connections: number
  /** The most open at once since the sink started or was last reset. */
  readonly peakConnections: number
}

export interface RecipientTally {
  readonly count: number
  /** When the first copy was accepted, epoch ms. */
  readonly firstAt: number
}

export interface Sink {
  readonly port: number
  setMode(mode: SinkMode): Promise<void>
  setDelay(ms: number): Promise<void>
  /** 454 4.7.0 Throttling failure to the end of DATA while `perSecond` were accepted in the last second; 0: off. */
  setThrottle(perSecond: number): Promise<void>
  /** 451 4.7.1 to RCPT TO for these domains; [] for none. */
  deferDomains(domains: readonly string[]): Promise<void>
  /** Forgets every message so far: counts start again from 0. */
  reset(): Promise<void>
  counts(): Promise<SinkCounts>
  recipients(): Promise<Map<string, RecipientTally>>
  /** Copies accepted per Message-ID. */
  messageIds(): Promise<Map<string, number>>
  /** Resolves with the time (epoch ms) the `accepted`-th message was accepted. */
  waitForAccepted(accepted: number, timeoutMs: number): Promise<number>
  close(): Promise<void>
}

export async function startSink({ delayMs = 0 }: { delayMs?: number } = {}): Promise<Sink> {
  const child: ChildProcess = spawnBenchProcess('smtp-sink.ts', [String(delayMs)])
  const lines = stdoutLines(child)
  const pending = new Map<number, (reply: Record<string, unknown>) => void>()
  let nextId = 1
  // If the sink dies, every question still waiting gets that for an answer.
  const died = () => {
    for (const answer of pending.values()) answer({ error: `exited (${child.exitCode ?? child.signalCode})` })
    pending.clear()
  }
  child.once('exit', died)
  child.stdin?.on('error', died)
  // The first line is {"port"}; every later one answers the command with its id.
  let listening: (port: number) => void = () => {}
  lines.on('line', (line) => {
    const { id, port, ...reply } = JSON.parse(line) as Record<string, unknown> & { id?: number; port?: number }
    if (id === undefined) return listening(port ?? 0)
    pending.get(id)?.(reply)
    pending.delete(id)
  })
  const port = await withTimeout('the SMTP sink to listen', new Promise<number>((resolve) => (listening = resolve)), 30_000)

  async function ask(command: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`SMTP sink: exited (${child.exitCode ?? child.signalCode})`)
    const id = nextId++
    const reply = new Promise<Record<string, unknown>>((resolve) => pending.set(id, resolve))
    child.stdin?.write(JSON.stringify({ id, ...command }) + '\n')
    const answer = await withTimeout(`the SMTP sink to answer ${String(command.op)}`, reply, timeoutMs)
    if (typeof answer.error === 'string') throw new Error(`SMTP sink: ${answer.error}`)
    return answer
  }

  return {
    port,
    setMode: async (mode) => void (await ask({ op: 'mode', mode })),
    setDelay: async (ms) => void (await ask({ op: 'delay', ms })),
    setThrottle: async (perSecond) => void (await ask({ op: 'throttle', perSecond })),
    deferDomains: async (domains) => void (await ask({ op: 'defer', domains })),
    reset: async () => void (await ask({ op: 'reset' })),
    counts: async () => (await ask({ op: 'counts' })) as unknown as SinkCounts,
    async recipients() {
      const { recipients } = (await ask({ op: 'recipients' }, 60_000)) as { recipients: Record<string, RecipientTally> }
      return new Map(Object.entries(recipients))
    },
    async messageIds() {
      const { messageIds } = (await ask({ op: 'messageIds' }, 60_000)) as { messageIds: Record<string, number> }
      return new Map(Object.entries(messageIds))
    },
    async waitForAccepted(accepted, timeoutMs) {
      const reply = await ask({ op: 'wait', accepted, timeoutMs }, timeoutMs + 5_000)
      return reply.at as number
    },
    async close() {
      child.stdin?.end()
      await stopProcess(child, 2_000)
    },
  }
}

/** Runs `fn` with a sink of its own, closed afterwards whatever happens. */
export async function withSink<T>(options: { delayMs?: number }, fn: (sink: Sink) => Promise<T>): Promise<T> {
  const sink = await startSink(options)
  try {
    return await fn(sink)
  } finally {
    await sink.close()
  }
}
