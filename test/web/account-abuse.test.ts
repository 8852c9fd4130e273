import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { MAIL_BUDGET } from '../../src/accounts/index.ts'
import { ManualClock } from '../helpers/env.ts'
import { until } from '../helpers/wait.ts'
import { type Client, confirmedUser, linkIn, type WebHarness, webHarness } from '../helpers/web.ts'

const victim = 'victim@example.test'
// Spellings that reach the same account: case, a fullwidth domain, a soft hyphen in the domain.
const SPELLINGS = [victim, 'VICTIM@Example.Test', 'victim@ｅｘａｍｐｌｅ.test', 'victim@exam\u00adple.test']

/** A JSON POST as if from `ip` (no proxy is trusted, so the socket's address is the client's). */
async function post(h: WebHarness, ip: string, url: string, body: unknown, cookie?: string) {
  return h.app.inject({
    method: 'POST',
    url,
    remoteAddress: ip,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(cookie ? { cookie } : {}) },
  })
}

/** Every message the SMTP sink accepted for `address`, whatever its spelling. */
const deliveredTo = (h: WebHarness, address: string) =>
  h.sink.received.filter((m) => m.envelope.to.some((to) => to.toLowerCase() === address.toLowerCase())).length

/** Waits until the worker has nothing left to send now. */
async function drained(h: WebHarness) {
  await until(async () => {
    const { counts } = await h.deps.outbox.status()
    return counts.queued + counts.sending === 0
  }, 'the outbox to drain')
}

describe('abuse of the account flows', () => {
  test('one mail budget per recipient across sign-up, resend, reset, change of address and correction, on the normalised address', async () => {
    const clock = new ManualClock(Date.now())
    const h = await webHarness({ clock, env: { RAGTIME_RATE_LIMITS: 'on' } })
    let ip = 0
    const nextIp = () => `10.0.${Math.floor(++ip / 250)}.${ip % 250}`
    // Attackers' own confirmed accounts, to change their address to the victim's.
    const attackers: Client[] = []
    for (let i = 0; i < 4; i++) {
      attackers.push(await confirmedUser(h, h.client(), { email: `mallory${i}@example.test`, username: `mallory${i}`, password: `mallory's password ${i}` }))
    }
    const hour = async (round: number) => {
      for (let i = 0; i < 4; i++) {
        const email = SPELLINGS[i % SPELLINGS.length]
        await post(h, nextIp(), '/auth/register', { email, username: `squat${round}x${i}`, password: 'a squatter password' })
        await post(h, nextIp(), '/auth/reset', { email })
      }
      for (const [i, attacker] of attackers.entries()) {
        await attacker.json('POST', '/auth/change-email', { email: SPELLINGS[i % SPELLINGS.length], password: `mallory's password ${i}` })
      }
      // The squatter's unconfirmed account corrects its address back and forth.
      const squatter = h.client()
      await squatter.json('POST', '/auth/register', { email: `elsewhere${round}@example.test`, username: `cycler${round}`, password: 'a cycling password' })
      await squatter.json('POST', '/auth/login', { email: `elsewhere${round}@example.test`, password: 'a cycling password' })
      for (const email of SPELLINGS.slice(0, 3)) {
        await squatter.json('POST', '/auth/unconfirmed/address', { email, password: 'a cycling password' })
      }
      await drained(h)
    }
    await hour(0)
    assert.equal(deliveredTo(h, victim), MAIL_BUDGET.perHour, 'an hour of every flow: the hourly budget, no more')
    for (let round = 1; round < 6; round++) {
      clock.advance(3_600_000)
      await hour(round)
      assert.ok(deliveredTo(h, victim) <= MAIL_BUDGET.perHour * (round + 1))
    }
    assert.equal(deliveredTo(h, victim), MAIL_BUDGET.perDay, 'six hours of it: the daily budget, no more')
    assert.ok(deliveredTo(h, 'elsewhere0@example.test') >= 1, 'other addresses are not held back')
  })

  test('change of address is limited per user, and the victim gets no more than the limit', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const attacker = await confirmedUser(h, h.client(), { email: 'mallory@example.test', username: 'mallory', password: 'mallory password' })
    const codes: number[] = []
    for (let i = 0; i < 30; i++) {
      codes.push((await attacker.json('POST', '/auth/change-email', { email: victim, password: 'mallory password' })).statusCode)
    }
    assert.deepEqual(codes.slice(0, 3), [202, 202, 202])
    assert.ok(codes.slice(3).every((c) => c === 429), codes.join())
    await drained(h)
    assert.equal(deliveredTo(h, victim), 3)
  })

  test('per-address limits count every spelling of the address as one (reset, log-in)', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    const resets = []
    for (const [i, email] of SPELLINGS.entries()) resets.push((await post(h, `10.1.0.${i + 1}`, '/auth/reset', { email })).statusCode)
    assert.deepEqual(resets, [202, 202, 202, 429])

    const logins = []
    for (let i = 0; i < 11; i++) {
      logins.push((await post(h, '10.2.0.1', '/auth/login', { email: SPELLINGS[i % SPELLINGS.length], password: 'wrong password' })).statusCode)
    }
    assert.deepEqual(logins, [...Array(10).fill(401), 429])
  })

  test('failed log-ins to one account from many IPs lock it for a while; a password reset lifts the lock', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    const codes = []
    for (let i = 0; i < 21; i++) codes.push((await post(h, `10.3.${i}.1`, '/auth/login', { email: SPELLINGS[i % SPELLINGS.length], password: `guess ${i}` })).statusCode)
    assert.deepEqual(codes, [...Array(20).fill(401), 429])
    const locked = await post(h, '10.4.0.1', '/auth/login', { email: victim, password: 'victim password' })
    assert.equal(locked.statusCode, 429, 'the owner too, until the window ends or a reset')
    const retryAfter = Number(locked.headers['retry-after'])
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `locked for ${retryAfter} s at most 15 minutes`)

    await post(h, '10.4.0.2', '/auth/reset', { email: victim })
    const link = linkIn(await h.mailTo(victim, { subject: /Reset/ }))
    assert.equal((await post(h, '10.4.0.2', link, { password: 'a brand new password' })).statusCode, 200)
    assert.equal((await post(h, '10.4.0.3', '/auth/login', { email: victim, password: 'a brand new password' })).statusCode, 200)
  })

  test('the owner’s own browser gets past the lock-out, the per-address reset limit and the mail budget that strangers use up', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const owner = await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    assert.equal((await owner.json('POST', '/auth/login', { email: victim, password: 'victim password' })).statusCode, 200)
    // A stranger locks the account, spends the address's reset limit and its mail budget.
    for (let i = 0; i < 21; i++) await post(h, `10.6.${i}.1`, '/auth/login', { email: victim, password: `guess ${i}` })
    for (let i = 0; i < 8; i++) await post(h, `10.7.${i}.1`, '/auth/reset', { email: SPELLINGS[i % SPELLINGS.length] })
    await drained(h)
    const before = deliveredTo(h, victim)
    assert.equal((await post(h, '10.8.0.1', '/auth/login', { email: victim, password: 'victim password' })).statusCode, 429, 'a new browser is locked out')
    assert.equal((await post(h, '10.8.0.1', '/auth/reset', { email: victim })).statusCode, 429, 'and refused a reset')

    const again = await owner.json('POST', '/auth/login', { email: 'Victim@Example.test', password: 'victim password' })
    assert.equal(again.statusCode, 200, 'the browser that logged in before is not')
    assert.equal((await owner.json('POST', '/auth/reset', { email: victim })).statusCode, 202)
    await until(() => deliveredTo(h, victim) > before, 'the owner’s reset email, past the budget')
    // The cookie vouches for that account only: another locked account stays locked for this browser.
    await confirmedUser(h, h.client(), { email: 'other@example.test', username: 'other', password: 'other password' })
    for (let i = 0; i < 21; i++) await post(h, `10.6.${i}.2`, '/auth/login', { email: 'other@example.test', password: `guess ${i}` })
    const other = await owner.json('POST', '/auth/login', { email: 'other@example.test', password: 'other password' })
    assert.equal(other.statusCode, 429)
  })

  test('failed log-ins in parallel cannot slip past the count: at most the limit are checked', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(h, `10.9.${i}.1`, '/auth/login', { email: victim, password: `guess ${i}` })))
    const codes = answers.map((a) => a.statusCode)
    assert.equal(codes.filter((c) => c === 401).length, 20, codes.join())
    assert.equal(codes.filter((c) => c === 429).length, 10, codes.join())
  })

  test('a log-in to an account whose hash is older takes as long as one to an unknown address', async () => {
    const h = await webHarness({ env: { RAGTIME_PASSWORD_COST: '14' } })
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    // A dormant account from before the cost was raised: its hash is at 2^10, the decoy at 2^14.
    const { passwordHasher } = await import('../../src/accounts/passwords.ts')
    const stale = await passwordHasher(10).hash('victim password')
    const timed = async (email: string) => {
      await h.db.kysely.updateTable('users').set({ password_hash: stale }).execute()
      const start = performance.now()
      assert.equal((await h.client().json('POST', '/auth/login', { email, password: 'a wrong password' })).statusCode, 401)
      return performance.now() - start
    }
    const known: number[] = []
    const unknown: number[] = []
    for (let i = 0; i < 7; i++) {
      known.push(await timed(victim))
      unknown.push(await timed(`nobody${i}@example.test`))
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[3]!
    assert.ok(median(known) >= 0.7 * median(unknown), `known ${median(known).toFixed(1)} ms vs unknown ${median(unknown).toFixed(1)} ms`)
  })

  test('one reset link posted twice at once changes the password once', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    await h.client().json('POST', '/auth/reset', { email: victim })
    const link = linkIn(await h.mailTo(victim, { subject: /Reset/ }))
    const answers = await Promise.all([
      h.client().json('POST', link, { password: 'first new password' }),
      h.client().json('POST', link, { password: 'second new password' }),
    ])
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 400])
    const won = answers[0]!.statusCode === 200 ? 'first new password' : 'second new password'
    assert.equal((await h.client().json('POST', '/auth/login', { email: victim, password: won })).statusCode, 200)
  })

  test('a confirmation link clicked twice at once: both answers say confirmed', async () => {
    const h = await webHarness()
    await h.client().json('POST', '/auth/register', { email: victim, username: 'victim', password: 'victim password' })
    const link = linkIn(await h.mailTo(victim, { subject: /Confirm/ }))
    const answers = await Promise.all([h.client().json('POST', link, {}), h.client().json('POST', link, {})])
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200])
  })

  test('an address freed by a change of address and squatted by a new sign-up does not block the undo', async () => {
    const h = await webHarness()
    const owner = await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    // Someone with the password moves the account away, then squats the old address.
    await owner.json('POST', '/auth/change-email', { email: 'mallory@example.test', password: 'victim password' })
    assert.equal((await h.client().json('POST', linkIn(await h.mailTo('mallory@example.test', { subject: /new address/ })), {})).statusCode, 200)
    assert.equal((await h.client().json('POST', '/auth/register', { email: victim, username: 'squatter', password: 'squatter password' })).statusCode, 202)
    const undo = linkIn(await h.mailTo(victim, { subject: /was changed/ }), /\/auth\/change-email\/undo\/[A-Za-z0-9_-]{43}/)
    const undone = await h.client().json('POST', undo, {})
    assert.equal(undone.statusCode, 200)
    assert.equal(undone.json().email, victim)
    const users = await h.db.kysely.selectFrom('users').select(['username', 'email']).execute()
    assert.deepEqual(users, [{ username: 'victim', email: victim }], 'the squatter’s unconfirmed account is gone')
  })

  test('a change of address over the new address’s mail budget sends nothing and leaves the earlier link working', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const owner = await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    await owner.json('POST', '/auth/change-email', { email: 'new@example.test', password: 'victim password' })
    const first = linkIn(await h.mailTo('new@example.test', { subject: /new address/ }))
    for (let i = 0; i < MAIL_BUDGET.perHour; i++) await post(h, `10.10.${i}.1`, '/auth/register', { email: 'new@example.test', username: `filler${i}`, password: 'a filler password' })
    await drained(h)
    const sent = deliveredTo(h, 'new@example.test')
    assert.equal((await owner.json('POST', '/auth/change-email', { email: 'new@example.test', password: 'victim password' })).statusCode, 202)
    await drained(h)
    assert.equal(deliveredTo(h, 'new@example.test'), sent, 'nothing more was sent')
    assert.equal((await h.client().json('POST', first, {})).statusCode, 200, 'the earlier link still works')
  })

  test('sign-up with a taken username answers the same whether the address has an account or not', async () => {
    const h = await webHarness()
    await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    await h.client().json('POST', '/auth/register', { email: 'pending@example.test', username: 'pending', password: 'pending password' })
    // The attacker's own username (known to be taken), and another's, against addresses that
    // have a confirmed account, a pending one, or none.
    await confirmedUser(h, h.client(), { email: 'mallory@example.test', username: 'mallory', password: 'mallory password' })
    const probes = [
      ['mallory', victim],
      ['mallory', 'VICTIM@example.test'],
      ['mallory', 'pending@example.test'],
      ['mallory', 'nobody@example.test'],
      ['victim', 'pending@example.test'],
      ['victim', 'nobody@example.test'],
      ['pending', victim],
      ['pending', 'nobody@example.test'],
    ]
    const answers = []
    for (const [username, email] of probes) answers.push(await h.client().json('POST', '/auth/register', { email, username, password: 'another password' }))
    assert.ok(answers.every((a) => a.statusCode === 409), answers.map((a) => a.statusCode).join())
    assert.equal(new Set(answers.map((a) => a.body)).size, 1, 'the same body every time')
    const users = await h.db.kysely.selectFrom('users').select('username').orderBy('username').execute()
    assert.deepEqual(users.map((u) => u.username), ['mallory', 'pending', 'victim'], 'nothing was created or replaced')
  })

  test('a password change voids every pending change-of-address link', async () => {
    const h = await webHarness()
    const owner = await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    // Someone who knew the old password asks to move the account to their address…
    await owner.json('POST', '/auth/change-email', { email: 'mallory@example.test', password: 'victim password' })
    const change = linkIn(await h.mailTo('mallory@example.test', { subject: /new address/ }))
    // …and the owner resets the password.
    await h.client().json('POST', '/auth/reset', { email: victim })
    const reset = linkIn(await h.mailTo(victim, { subject: /Reset/ }))
    assert.equal((await h.client().json('POST', reset, { password: 'the new password' })).statusCode, 200)
    assert.equal((await h.client().get(change)).statusCode, 400, 'the page says so')
    const used = await h.client().json('POST', change, {})
    assert.equal(used.statusCode, 400)
    const row = await h.db.kysely.selectFrom('users').select('email').executeTakeFirstOrThrow()
    assert.equal(row.email, victim)
  })

  test('a change of address, or its undo, voids every reset link', async () => {
    const h = await webHarness()
    const owner = await confirmedUser(h, h.client(), { email: victim, username: 'victim', password: 'victim password' })
    await h.client().json('POST', '/auth/reset', { email: victim })
    const oldReset = linkIn(await h.mailTo(victim, { subject: /Reset/ }))
    await owner.json('POST', '/auth/change-email', { email: 'new@example.test', password: 'victim password' })
    assert.equal((await h.client().json('POST', linkIn(await h.mailTo('new@example.test', { subject: /new address/ })), {})).statusCode, 200)
    assert.equal((await h.client().json('POST', oldReset, { password: 'a password for me' })).statusCode, 400, 'reset link to the old address')

    // A reset link sent to the new address dies when the old address takes the account back.
    await h.client().json('POST', '/auth/reset', { email: 'new@example.test' })
    const newReset = linkIn(await h.mailTo('new@example.test', { subject: /Reset/ }))
    const undo = linkIn(await h.mailTo(victim, { subject: /was changed/ }), /\/auth\/change-email\/undo\/[A-Za-z0-9_-]{43}/)
    assert.equal((await h.client().json('POST', undo, {})).statusCode, 200)
    assert.equal((await h.client().json('POST', newReset, { password: 'a password for me' })).statusCode, 400, 'reset link to the undone address')
  })

  test('a new password with a bad reset link costs no password hash, and the route is limited per IP', async () => {
    const h = await webHarness({ env: { RAGTIME_RATE_LIMITS: 'on' } })
    const real = crypto.scrypt
    let hashes = 0
    crypto.scrypt = ((...args: Parameters<typeof real>) => {
      hashes++
      return (real as (...a: unknown[]) => void)(...args)
    }) as typeof real
    syncBuiltinESMExports()
    try {
      const codes = []
      for (let i = 0; i < 11; i++) codes.push((await post(h, '10.5.0.1', `/auth/reset/${'A'.repeat(42)}${i % 10}`, { password: 'a good new password' })).statusCode)
      assert.deepEqual(codes, [...Array(10).fill(400), 429])
      assert.equal(hashes, 0, 'the token is checked before the password is hashed')
    } finally {
      crypto.scrypt = real
      syncBuiltinESMExports()
    }
  })

  test('confirmation racing a correction of the address: a link confirms only the address it was sent to (many rounds, both orders)', async () => {
    const h = await webHarness()
    const signedUp = async (name: string) => {
      const user = { email: `${name}@example.test`, username: name, password: 'racer password' }
      const browser = h.client()
      await browser.json('POST', '/auth/register', user)
      const link = linkIn(await h.mailTo(user.email, { subject: /Confirm/ }))
      await browser.json('POST', '/auth/login', user)
      const correct = (email: string) => browser.json('POST', '/auth/unconfirmed/address', { email, password: user.password })
      return { user, link, correct }
    }
    // How long a correction takes here (its password check, then its transaction): the
    // confirmation is sent at offsets spread over that time, so it lands inside the correction's
    // transaction in some rounds, whatever the machine's speed.
    const probe = await signedUp('probe')
    const started = performance.now()
    await probe.correct('probe2@example.test')
    const span = Math.ceil(performance.now() - started) + 4
    const rounds = 40
    for (let round = 0; round < rounds; round++) {
      const { user, link, correct } = await signedUp(`racer${round}`)
      const target = `target${round}@example.test`
      const confirmFirst = round % 2 === 1
      const offset = confirmFirst ? round % 4 : Math.round((round / rounds) * span)
      const [first, second] = confirmFirst ? [() => h.client().json('POST', link, {}), () => correct(target)] : [() => correct(target), () => h.client().json('POST', link, {})]
      const one = first()
      await delay(offset)
      const [a, b] = await Promise.all([one, second()])
      const [corrected, confirmed] = confirmFirst ? [b, a] : [a, b]
      const row = await h.db.kysely.selectFrom('users').select(['email', 'confirmed_at']).where('username', '=', user.username).executeTakeFirstOrThrow()
      const what = `round ${round}, +${offset} ms: correction ${corrected.statusCode}, confirmation ${confirmed.statusCode}, now ${row.email} ${row.confirmed_at ? 'confirmed' : 'unconfirmed'}`
      if (row.confirmed_at !== null) assert.equal(row.email, user.email, `only the address the link went to is confirmed (${what})`)
      if (confirmed.statusCode === 200) assert.equal(row.email, user.email, what)
      if (corrected.statusCode === 202) assert.equal(row.confirmed_at, null, what)
    }
  })
})
