// The messages of a prepared queue (bench/lib/prepare-queue.ts) exactly as the outbox stores and
// sends them: the raw bytes, the envelope sender and the recipient. The baselines of the
// delivery scenario send these, loaded into memory before their timer starts.
import Database from 'better-sqlite3'
import type { OutgoingMail } from '../../src/mail/index.ts'
import { startTimer } from './time.ts'

/** Every queued message in `file`, in id order, as the worker hands it to its transport. */
export function loadQueuedMessages(file: string): OutgoingMail[] {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const rows = db
      .prepare<[], { envelope_from: string; recipient: string; raw: string }>(
        `select o.envelope_from, o.recipient, b.raw from mail_outbox o join mail_body b on b.outbox_id = o.id
         where o.state = 'queued' order by o.id`,
      )
      .all()
    return rows.map((row) => ({ raw: row.raw, envelope: { from: row.envelope_from, to: [row.recipient] } }))
  } finally {
    db.close()
  }
}

/**
 * Sends every message with `inFlight` sends outstanding at a time and returns the rate and the
 * CPU time per message, timed from the first send to the last reply (connections are opened
 * inside the timer, as the worker's are). Throws on the first failed send: every baseline must
 * deliver everything.
 */
export async function sendAll(
  messages: readonly OutgoingMail[],
  inFlight: number,
  send: (mail: OutgoingMail) => Promise<unknown>,
): Promise<{ rate: number; cpuUsPerMessage: number }> {
  let next = 0
  const timer = startTimer()
  await Promise.all(
    Array.from({ length: Math.min(inFlight, messages.length) }, async () => {
      while (next < messages.length) await send(messages[next++]!)
    }),
  )
  return timer.stop(messages.length)
}
