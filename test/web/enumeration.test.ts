import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { webHarness } from '../helpers/web.ts'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** Same shape: the same keys at every level, whatever the values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
  return typeof value
}

async function timed(fn: () => Promise<{ statusCode: number; body: string }>) {
  const start = performance.now()
  const answer = await fn()
  return { ms: performance.now() - start, answer }
}

// Coarse on purpose: the design makes both paths do the same expensive work (a password hash
// on sign-up, a rendered email on reset); this catches a path that skips it, not microseconds.
function assertSimilar(a: number[], b: number[], what: string) {
  const [ma, mb] = [median(a), median(b)]
  assert.ok(Math.abs(ma - mb) <= Math.max(10, 0.5 * Math.max(ma, mb)), `${what}: medians ${ma.toFixed(1)} vs ${mb.toFixed(1)} ms`)
}

describe('no answer tells whether an address has an account', () => {
  test('sign-up: same status, same body, similar time for a taken and a new address', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: 'password one' })
    const taken: number[] = []
    const fresh: number[] = []
    for (let i = 0; i < 7; i++) {
      const a = await timed(() => h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: `x${i}x`, password: 'password one' }))
      const b = await timed(() => h.client().json('POST', '/auth/register', { email: `new${i}@example.test`, username: `new${i}`, password: 'password one' }))
      assert.equal(a.answer.statusCode, b.answer.statusCode)
      assert.equal(a.answer.body, b.answer.body)
      taken.push(a.ms)
      fresh.push(b.ms)
    }
    assertSimilar(taken, fresh, 'sign-up')
  })

  test('reset: same status, same body shape, similar time for a known and an unknown address', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: 'password one' })
    const known: number[] = []
    const unknown: number[] = []
    for (let i = 0; i < 9; i++) {
      const a = await timed(() => h.client().json('POST', '/auth/reset', { email: 'ann@example.test' }))
      const b = await timed(() => h.client().json('POST', '/auth/reset', { email: `nobody${i}@example.test` }))
      assert.equal(a.answer.statusCode, 202)
      assert.equal(b.answer.statusCode, 202)
      assert.deepEqual(shape(JSON.parse(a.answer.body)), shape(JSON.parse(b.answer.body)))
      known.push(a.ms)
      unknown.push(b.ms)
    }
    assertSimilar(known, unknown, 'reset')
    const browser = h.client()
    await browser.get('/auth/reset')
    const pageKnown = await browser.form('/auth/reset', { email: 'ann@example.test' })
    const pageUnknown = await browser.form('/auth/reset', { email: 'nobody@example.test' })
    assert.equal(pageKnown.headers.location, pageUnknown.headers.location)
  })
})
