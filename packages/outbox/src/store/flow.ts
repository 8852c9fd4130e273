import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Millis } from '../db.ts'
import { transaction } from '../transaction.ts'
import type { OutboxDb } from './types.ts'

/**
 * Takes `count` tokens at once from the shared quota `key`, which refills at `perSecond` and
 * holds at most `burstMs` worth: a generic cell rate algorithm, whose one number per quota (the
 * theoretical arrival time, when the bucket would be full again) every worker updates in one
 * statement. All or nothing. Returns 0 when the tokens were taken, else how many ms until they
 * could be.
 */
export async function takeTokens(
  db: OutboxDb,
  key: string,
  { count, perSecond, burstMs, now }: { count: number; perSecond: number; burstMs: number; now: Millis },
): Promise<number> {
  const cost = (count * 1000) / perSecond
  const burst = Math.max(burstMs, cost)
  // Which call's take went through is told by a nonce: RETURNING sees only the new row.
  const nonce = randomBytes(8).toString('hex')
  const tat = sql.ref('mail_flow_buckets.tat')
  const base = sql<number>`(case when ${tat} > ${now} then ${tat} else ${now} end)`
  const fits = sql<boolean>`${base} + ${cost} <= ${now + burst}`
  const row = await db
    .insertInto('mail_flow_buckets')
    .values({ key, tat: now + cost, taker: nonce })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        tat: sql<number>`case when ${fits} then ${base} + ${cost} else ${tat} end`,
        taker: sql<string>`case when ${fits} then ${nonce} else ${sql.ref('mail_flow_buckets.taker')} end`,
      }),
    )
    .returning(['tat', 'taker'])
    .executeTakeFirstOrThrow()
  if (row.taker === nonce) return 0
  return Math.max(1, Math.ceil(Number(row.tat) + cost - burst - now))
}

/**
 * Sets this worker's share of `relay`'s connections, held until `now + ttlMs`, and returns it:
 * as many of `want` as the others leave of `max`, and no more than leaves each other live worker
 * what it wants up to an even share (max-min fairness: a worker that grabbed every connection
 * gives back down to its even share at its next renewal, so a worker that starts later is not
 * starved). The relay's lock row serialises every change, so the shares of live workers never
 * add up to more than `max` (a share that lapsed, a worker that died, counts no more).
 */
export async function claimSlots(
  db: OutboxDb,
  { relay, workerId, want, max, now, ttlMs }: { relay: string; workerId: string; want: number; max: number; now: Millis; ttlMs: number },
): Promise<number> {
  return transaction(db, async (trx) => {
    // Taking the lock row's write lock first: concurrent claims for this relay queue here.
    await trx
      .insertInto('mail_flow_buckets')
      .values({ key: `slots:${relay}`, tat: now, taker: workerId })
      .onConflict((oc) => oc.column('key').doUpdateSet({ tat: now, taker: workerId }))
      .execute()
    const others = await trx
      .selectFrom('mail_flow_slots')
      .select(['slots', 'wanted'])
      .where('relay', '=', relay)
      .where('worker_id', '!=', workerId)
      .where('expires_at', '>', now)
      .execute()
    const even = Math.floor(max / (others.length + 1))
    const held = others.reduce((n, o) => n + Number(o.slots), 0)
    const owed = others.reduce((n, o) => n + Math.min(Number(o.wanted), even), 0)
    const slots = Math.max(0, Math.min(want, max - held, max - owed))
    await trx
      .insertInto('mail_flow_slots')
      .values({ relay, worker_id: workerId, slots, wanted: want, expires_at: now + ttlMs })
      .onConflict((oc) => oc.columns(['relay', 'worker_id']).doUpdateSet({ slots, wanted: want, expires_at: now + ttlMs }))
      .execute()
    // Shares of workers gone for good.
    await trx.deleteFrom('mail_flow_slots').where('relay', '=', relay).where('expires_at', '<', now - ttlMs).execute()
    return slots
  })
}

/** Gives this worker's share of `relay`'s connections back (a worker that stops). */
export async function releaseSlots(db: OutboxDb, relay: string, workerId: string): Promise<void> {
  await db.deleteFrom('mail_flow_slots').where('relay', '=', relay).where('worker_id', '=', workerId).execute()
}
