export interface BackoffPolicy {
  readonly retryFirstMs: number
  readonly retryMaxMs: number
}

/**
 * The wait before the next attempt, after `attempts` failed ones: the first delay doubled per
 * failure, capped, then spread over 75–125% so that a burst of failures does not retry in lockstep.
 */
export function retryDelay(policy: BackoffPolicy, attempts: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30)
  const base = Math.min(policy.retryMaxMs, policy.retryFirstMs * 2 ** exponent)
  return Math.round(Math.min(policy.retryMaxMs, base * (0.75 + random() * 0.5)))
}
