import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, test } from 'node:test'
import { SCRYPT_CHANNEL } from '../../src/accounts/passwords.ts'
import { RENDER_CHANNEL } from '@ragtime/outbox'
import { confirmedUser, webHarness } from '../helpers/web.ts'

/** Same shape: the same keys at every level, whatever the values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
  return typeof value
}

/**
 * The costly work `request` does, in order: each scrypt run with its cost, each email rendered.
 * The answer's time follows it, so two paths that do the same work take as long; how long is
 * the benchmark's business, not a test's (a timing assertion fails on a busy machine, or passes
 * a path that skips a few milliseconds of work).
 */
async function workOf<T>(request: () => Promise<T>): Promise<{ answer: T; work: string[] }> {
  const work: string[] = []
  const hashed = (message: unknown) => {
    const { N, r, p } = message as { N: number; r: number; p: number }
    work.push(`scrypt N=${N} r=${r} p=${p}`)
  }
  const rendered = () => work.push('render an email')
  subscribe(SCRYPT_CHANNEL, hashed)
  subscribe(RENDER_CHANNEL, rendered)
  try {
    return { answer: await request(), work }
  } finally {
    unsubscribe(SCRYPT_CHANNEL, hashed)
    unsubscribe(RENDER_CHANNEL, rendered)
  }
}

describe('no answer tells whether an address has an account', () => {
  test('sign-up: same status, same body, same work (one password hash, one email) for a new address and a taken one', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client(), { email: 'ann@example.test', username: 'ann', password: 'password one' })
    await h.client().json('POST', '/auth/register', { email: 'bob@example.test', username: 'bob', password: 'password one' })
    const signUp = (email: string, username: string) =>
      workOf(() => h.client().json('POST', '/auth/register', { email, username, password: 'password two' }))

    const fresh = await signUp('new@example.test', 'new')
    assert.equal(fresh.answer.statusCode, 202)
    assert.deepEqual(fresh.work, [`scrypt N=${2 ** h.deps.config.passwordCost} r=8 p=1`, 'render an email'])
    const taken = {
      'an account confirmed': await signUp('ann@example.test', 'ann2'),
      'an account not confirmed yet': await signUp('bob@example.test', 'bob2'),
    }
    for (const [what, other] of Object.entries(taken)) {
      assert.equal(other.answer.statusCode, fresh.answer.statusCode, what)
      assert.equal(other.answer.body, fresh.answer.body, what)
      assert.deepEqual(other.work, fresh.work, what)
    }
  })

  test('sign-up again for an address with a confirmed account: the same work as for a new address (the hourly notice not sent is rendered all the same)', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client(), { email: 'ann@example.test', username: 'ann', password: 'password one' })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann2', password: 'password two' })
    const again = await workOf(() => h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann3', password: 'password two' }))
    const fresh = await workOf(() => h.client().json('POST', '/auth/register', { email: 'new@example.test', username: 'new', password: 'password two' }))
    assert.equal(again.answer.body, fresh.answer.body)
    assert.deepEqual(again.work, fresh.work)
  })

  test('reset: same status, same body shape, same work (the reset email rendered) for a known and an unknown address', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: 'password one' })
    for (let i = 0; i < 2; i++) {
      const known = await workOf(() => h.client().json('POST', '/auth/reset', { email: 'ann@example.test' }))
      const unknown = await workOf(() => h.client().json('POST', '/auth/reset', { email: `nobody${i}@example.test` }))
      assert.equal(known.answer.statusCode, 202)
      assert.equal(unknown.answer.statusCode, 202)
      assert.deepEqual(shape(JSON.parse(known.answer.body)), shape(JSON.parse(unknown.answer.body)))
      assert.deepEqual(known.work, ['render an email'])
      assert.deepEqual(unknown.work, known.work)
    }
    const browser = h.client()
    await browser.get('/auth/reset')
    const pageKnown = await browser.form('/auth/reset', { email: 'ann@example.test' })
    const pageUnknown = await browser.form('/auth/reset', { email: 'nobody@example.test' })
    assert.equal(pageKnown.headers.location, pageUnknown.headers.location)
  })
})
