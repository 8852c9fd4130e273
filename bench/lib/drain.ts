// The delivery programs the throughput and memory scenarios compare, each run in a fresh
// process: the outbox worker draining a prepared SQLite queue (bench/processes/drain.ts), and two
// baselines sending the same queue's bytes from memory: nodemailer's pooled transport
// (bench/processes/nodemailer-pool.ts) and Ragtime's own SMTP pool (bench/processes/smtp-pool.ts).
import { copyFileSync, rmSync } from 'node:fs'
import { newSqliteFile } from './databases.ts'
import { runBenchProcess } from './processes.ts'

/** SMTP connections, for the worker and the baselines alike (Ragtime's default). */
export const CONNECTIONS = 5

/**
 * Sends the baselines keep in flight: four per connection, so that a connection that finishes
 * a message always finds the next one waiting (the outbox worker keeps one per connection).
 */
export const BASELINE_IN_FLIGHT = 4 * CONNECTIONS

export interface DeliveryRun {
  /** Messages per second. */
  readonly rate: number
  /** CPU time of the delivering process (every thread, user and system) per message, in µs. */
  readonly cpuUsPerMessage: number
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

/** Sends the messages queued in `template` (read only) with nodemailer's pooled transport. */
export function nodemailerPool(template: string, smtpPort: number): Promise<DeliveryRun> {
  const args = [template, String(smtpPort), String(CONNECTIONS), String(BASELINE_IN_FLIGHT)]
  return runBenchProcess<DeliveryRun>('nodemailer-pool.ts', args, { timeoutMs: 600_000 })
}

/** Sends the messages queued in `template` (read only) with Ragtime's SMTP pool, no database. */
export function smtpPoolOnly(template: string, smtpPort: number): Promise<DeliveryRun> {
  const args = [template, String(smtpPort), String(CONNECTIONS), String(BASELINE_IN_FLIGHT)]
  return runBenchProcess<DeliveryRun>('smtp-pool.ts', args, { timeoutMs: 600_000 })
}
