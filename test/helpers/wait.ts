import { createServer } from 'node:net'

/**
 * Resolves once `condition` holds; fails after `timeoutMs`. It looks again after 5 ms, then less
 * often, up to every 50 ms after half a second: a condition that queries the database (the
 * outbox's counts) costs the test and the database little over a long wait.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now()
  while (!(await condition())) {
    const waited = Date.now() - started
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 5 + waited / 10)))
  }
}

/** A TCP port nothing listens on yet (for a server that must come up on a known port). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  return typeof address === 'object' && address ? address.port : 0
}
