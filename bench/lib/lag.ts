// Mail lag: from a sign-up's request (or an email's enqueue) to the sink accepting its email.
// Emails that never arrived are not folded into the percentiles as some number: they count as
// later than every arrival, and a percentile that falls on one is unknown (null), not a number.

export interface Lags {
  /** Emails that arrived: their lags in ms. */
  readonly samples: readonly number[]
  /** Emails that did not arrive. */
  readonly missing: number
}

/**
 * The lag of each email in `indexes`: `arrivals` maps an address to the first copy's arrival
 * (epoch ms); `startedAt[i]` is when email `i` started (NaN: never sent, left out).
 */
export function lagsOf(
  indexes: Iterable<number>,
  startedAt: readonly number[],
  address: (i: number) => string,
  arrivals: (address: string) => number | undefined,
): Lags {
  const samples: number[] = []
  let missing = 0
  for (const i of indexes) {
    if (Number.isNaN(startedAt[i])) continue
    const at = arrivals(address(i))
    if (at === undefined) missing++
    else samples.push(at - startedAt[i]!)
  }
  return { samples, missing }
}

/** The p-th percentile in ms with the missing ones last; null if it falls on a missing one. */
export function lagPercentile({ samples, missing }: Lags, p: number): number | null {
  const total = samples.length + missing
  if (total === 0) return null
  const rank = Math.min(total, Math.max(1, Math.ceil((p / 100) * total)))
  if (rank > samples.length) return null
  return Math.round([...samples].sort((a, b) => a - b)[rank - 1]!)
}

/** "812 ms", or "> 120.0 s (not all arrived)" when the percentile falls on a missing email. */
export function lagText(ms: number | null, waitedMs: number): string {
  return ms === null ? `> ${(waitedMs / 1000).toFixed(1)} s (not arrived)` : `${Math.round(ms).toLocaleString('en-US')} ms`
}
