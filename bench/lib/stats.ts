// The only statistics in the bench: percentiles of one run, and median and spread over runs.

/** The p-th percentile (nearest rank) of `values`; 0 for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0
}

/** The middle value; the mean of the two middle ones for an even count (so 2 runs give their mean). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** One measurement repeated over several runs: its median and its spread (min–max). */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: readonly number[]
}

export function summarize(runs: readonly number[], digits = 0): Summary {
  const round = (x: number) => Number(x.toFixed(digits))
  return {
    median: round(median(runs)),
    min: round(Math.min(...runs)),
    max: round(Math.max(...runs)),
    runs: runs.map(round),
  }
}

/** Latency percentiles of one run, in milliseconds. */
export interface Latencies {
  readonly count: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

export function latencies(samples: readonly number[]): Latencies {
  const ms = (p: number) => Math.round(percentile(samples, p))
  return { count: samples.length, p50: ms(50), p95: ms(95), p99: ms(99), max: ms(100) }
}

/** The ratio of two numbers, to two decimals (NaN-free: 0 when the denominator is 0). */
export const ratio = (numerator: number, denominator: number): number =>
  denominator === 0 ? 0 : Number((numerator / denominator).toFixed(2))
