// What reached the SMTP server, per sign-up: the measure of "no email lost".
import type { RecipientTally } from './sink.ts'
import { benchAddress } from './signups.ts'

export interface DeliveryTally {
  /** Users 0 … count − 1 with at least one copy. */
  readonly delivered: number
  /** Users with none. */
  readonly lost: number
  /** Copies beyond the first, over all users. */
  readonly duplicated: number
  /** When each delivered user's first copy arrived (epoch ms), in user order. */
  readonly firstArrivals: readonly number[]
}

export function tallyDeliveries(recipients: ReadonlyMap<string, RecipientTally>, count: number): DeliveryTally {
  let lost = 0
  let duplicated = 0
  const firstArrivals: number[] = []
  for (let i = 0; i < count; i++) {
    const tally = recipients.get(benchAddress(i))
    if (!tally) {
      lost++
      continue
    }
    duplicated += tally.count - 1
    firstArrivals.push(tally.firstAt)
  }
  return { delivered: count - lost, lost, duplicated, firstArrivals }
}
