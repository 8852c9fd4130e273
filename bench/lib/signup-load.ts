// Sign-ups as the load of the mail scenarios: many clients at once, or one request started at a
// steady pace. Each is timed from its request's start, so its email (found at the sink by its
// address) has a lag from that moment; a failed sign-up is counted, not thrown: it is a result.
import { epochMs, sleep } from './time.ts'

/** A sign-up that has not answered in this long has failed. */
const REQUEST_TIMEOUT_MS = 30_000

export interface SignUpLoad {
  /** When each sign-up's request started (epoch ms), by index. */
  readonly startedAt: readonly number[]
  /** Each one's duration in ms, by index; NaN where it failed. */
  readonly durations: readonly number[]
  /** The indexes of those not answered 202. */
  readonly failed: readonly number[]
  /** The first failure, for the log. */
  readonly firstError: string | undefined
}

/** JSON `POST /auth/register` for `email`; throws unless answered 202. */
export async function signUpAs(baseUrl: string, email: string, username: string): Promise<void> {
  const response = await fetch(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, username, password: 'bench password' }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  const body = await response.text()
  if (response.status !== 202) throw new Error(`sign-up of ${email} answered ${response.status}: ${body.slice(0, 200)}`)
}

function recorder(count: number, baseUrl: string, address: (i: number) => string) {
  const startedAt: number[] = new Array<number>(count).fill(NaN)
  const durations: number[] = new Array<number>(count).fill(NaN)
  const failed: number[] = []
  let firstError: string | undefined
  const one = async (i: number): Promise<void> => {
    startedAt[i] = epochMs()
    const started = performance.now()
    try {
      await signUpAs(baseUrl, address(i), `user${i}`)
      durations[i] = performance.now() - started
    } catch (err) {
      failed.push(i)
      firstError ??= String(err)
    }
  }
  return { one, result: (): SignUpLoad => ({ startedAt, durations, failed: failed.sort((a, b) => a - b), firstError }) }
}

/** Sign-ups 0 … count − 1, `clients` in flight at a time. */
export async function signUpsConcurrently(count: number, clients: number, baseUrl: string, address: (i: number) => string): Promise<SignUpLoad> {
  const { one, result } = recorder(count, baseUrl, address)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(clients, count) }, async () => {
      while (next < count) await one(next++)
    }),
  )
  return result()
}

/**
 * Sign-ups 0 … count − 1, one started every `intervalMs` whether or not the ones before have
 * answered (an open loop: a slow server does not slow the load down). Each request is bounded.
 */
export async function signUpsSteadily(count: number, intervalMs: number, baseUrl: string, address: (i: number) => string): Promise<SignUpLoad> {
  const { one, result } = recorder(count, baseUrl, address)
  const inFlight: Promise<void>[] = []
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    await sleep(started + i * intervalMs - performance.now())
    inFlight.push(one(i))
  }
  await Promise.all(inFlight)
  return result()
}
