import { createHash, timingSafeEqual } from 'node:crypto'
import type { Config } from '../config/index.ts'

/** What a `/metrics` request gets: the exposition, a 401 asking for the token, or a plain 404. */
export type MetricsAccess = 'allowed' | 'unauthorized' | 'not_found'

/**
 * The one rule for `/metrics`, on the web app and on `worker --metrics-port`: its counters rise
 * only for real addresses, so it is not public. With RAGTIME_METRICS_TOKEN set, it needs
 * `Authorization: Bearer <token>`; without one it is open in development and absent in production.
 */
export function metricsAccess(config: Pick<Config, 'production' | 'metricsToken'>, authorization: string | undefined): MetricsAccess {
  const token = config.metricsToken
  if (token === undefined) return config.production ? 'not_found' : 'allowed'
  const given = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1]
  return given !== undefined && sameSecret(given, token) ? 'allowed' : 'unauthorized'
}

/** The `WWW-Authenticate` value of a 401 from `/metrics`. */
export const METRICS_CHALLENGE = 'Bearer realm="metrics"'

// Hashing first makes both sides the same length, so the comparison's time says nothing about
// the token's length either.
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(expected))
}
