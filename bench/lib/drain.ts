// The two delivery programs the throughput and memory scenarios compare, each run in a fresh
// process: the outbox worker draining a prepared SQLite queue (bench/processes/drain.ts), and a
// plain loop of pooled nodemailer sendMail calls (bench/processes/plain-loop.ts).
import { copyFileSync, rmSync } from 'node:fs'
import { newSqliteFile } from './databases.ts'
import { runBenchProcess } from './processes.ts'

/** SMTP connections, for the worker and the plain loop alike (Ragtime's default). */
export const CONNECTIONS = 5

export interface DeliveryRun {
  /** Messages per second. */
  readonly rate: number
  /** Peak resident set size of the delivering process. */
  readonly maxRssMb: number
}

/** Drains a copy of the prepared queue in `template` (which is left as it was). */
export async function drainCopy(template: string, smtpPort: number): Promise<DeliveryRun> {
  const file = newSqliteFile('drain')
  copyFileSync(template, file)
  try {
    return await runBenchProcess<DeliveryRun>('drain.ts', [file, String(smtpPort), String(CONNECTIONS)], { timeoutMs: 600_000 })
  } finally {
    rmSync(file, { force: true })
  }
}

/** Sends `messages` emails with the plain nodemailer loop. */
export function plainLoop(messages: number, smtpPort: number): Promise<DeliveryRun> {
  return runBenchProcess<DeliveryRun>('plain-loop.ts', [String(smtpPort), String(messages), String(CONNECTIONS)], { timeoutMs: 600_000 })
}
