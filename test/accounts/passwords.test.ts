import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { isCommonPassword } from '../../src/accounts/common-passwords.ts'
import type { AccountsContext } from '../../src/accounts/context.ts'
import { checkCredentials } from '../../src/accounts/login.ts'
import { passwordHasher } from '../../src/accounts/passwords.ts'
import { checkPassword, type FieldErrors } from '../../src/accounts/validation.ts'
import { loadConfig } from '../../src/config/index.ts'
import { testEnv } from '../helpers/env.ts'
import { linkIn, webHarness, type WebHarness } from '../helpers/web.ts'

const TOO_COMMON = 'This password is too common: it appears in lists of leaked passwords. Choose another.'
const ann = { email: 'ann@example.test', username: 'ann', password: 'correct horse battery' }

/** log2 of N in a stored `scrypt$N$r$p$salt$hash`. */
function costOf(stored: string): number {
  return Math.log2(Number(stored.split('$')[1]))
}

async function storedHash(h: WebHarness, email: string) {
  return h.db.kysely
    .selectFrom('users')
    .select(['password_hash', 'password_changed_at', 'updated_at'])
    .where('email', '=', email)
    .executeTakeFirstOrThrow()
}

describe('common and leaked passwords are refused', () => {
  for (const password of ['12345678', 'password', 'Password1', 'qwertyuiop', 'PASSWORD', 'iloveyou', 'trustno1']) {
    test(`sign-up with "${password}": 400 naming the password field, no account, no email`, async () => {
      const h = await webHarness()
      const answer = await h.client().json('POST', '/auth/register', { ...ann, password })
      assert.equal(answer.statusCode, 400)
      assert.deepEqual(answer.json().error.fields, { password: TOO_COMMON })
      const users = await h.db.kysely.selectFrom('users').select('id').execute()
      assert.equal(users.length, 0)
      await h.worker.runOnce()
      assert.equal(h.sink.received.length, 0)
    })
  }

  test('the form says so too', async () => {
    const h = await webHarness()
    const browser = h.client()
    await browser.get('/auth/register')
    const page = await browser.form('/auth/register', { ...ann, password: '12345678' })
    assert.equal(page.statusCode, 400)
    assert.match(page.body, /This password is too common: it appears in lists of leaked passwords\. Choose another\./)
  })

  test('a strong random password is accepted', async () => {
    const h = await webHarness()
    const password = randomBytes(18).toString('base64url')
    const answer = await h.client().json('POST', '/auth/register', { ...ann, password })
    assert.equal(answer.statusCode, 202)
    assert.deepEqual(answer.json(), { status: 'pending_confirmation' })
  })

  test('a password reset refuses a common password as well', async () => {
    const h = await webHarness()
    const api = h.client()
    await api.json('POST', '/auth/register', ann)
    await api.json('POST', '/auth/reset', { email: ann.email })
    const link = linkIn(await h.mailTo(ann.email, { subject: /Reset your password/ }), /\/auth\/reset\/[A-Za-z0-9_-]{43}/)
    await api.get(link)
    const refused = await api.form(link, { password: 'password1' })
    assert.equal(refused.statusCode, 400)
    assert.match(refused.body, /This password is too common/)
    assert.equal((await api.form(link, { password: 'a brand new password' })).statusCode, 303)
  })

  test('checked case-insensitively, only once the length and NUL checks pass', () => {
    assert.equal(isCommonPassword('12345678'), true)
    assert.equal(isCommonPassword('PaSsWoRd'), true)
    assert.equal(isCommonPassword('QWERTYUIOP'), true)
    assert.equal(isCommonPassword('correct horse battery'), false)
    const check = (input: string) => {
      const errors: FieldErrors = {}
      checkPassword(input, errors)
      return errors.password
    }
    assert.equal(check('password'), TOO_COMMON)
    assert.equal(check('Password1'), TOO_COMMON)
    assert.equal(check('1234567'), 'Use at least 8 characters.', 'too short is said first')
    assert.equal(check('passwo\0rd'), 'A password cannot contain NUL characters.')
    assert.equal(check('пароль-密码-🔑'), undefined)
  })
})

describe('scrypt cost and rehash on log-in', () => {
  test('the default cost is 17 (N = 2^17, OWASP minimum), and a hash at that cost fits maxmem and verifies', async () => {
    const config = loadConfig(testEnv())
    assert.equal(config.passwordCost, 17)
    const hasher = passwordHasher(config.passwordCost)
    const stored = await hasher.hash('correct horse battery')
    assert.match(stored, /^scrypt\$131072\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    assert.equal(await hasher.verify('correct horse battery', stored), true)
    assert.equal(await hasher.verify('Correct horse battery', stored), false)
    assert.equal(hasher.needsRehash(stored), false)
  })

  test('needsRehash: other N, r, p or key length; verify accepts them all', async () => {
    const hasher = passwordHasher(12)
    const older = await passwordHasher(10).hash('correct horse battery')
    const current = await hasher.hash('correct horse battery')
    assert.equal(hasher.needsRehash(older), true)
    assert.equal(hasher.needsRehash(current), false)
    assert.equal(passwordHasher(13).needsRehash(current), true, 'a different cost, either way')
    assert.equal(await hasher.verify('correct horse battery', older), true)
    const [, n, , , salt, key] = current.split('$') as [string, string, string, string, string, string]
    const otherR = `scrypt$${n}$4$1$${salt}$${key}`
    const otherP = `scrypt$${n}$8$2$${salt}$${key}`
    assert.equal(hasher.needsRehash(otherR), true)
    assert.equal(hasher.needsRehash(otherP), true)
    assert.equal(await hasher.verify('correct horse battery', otherR), false, 'the parameters are part of the hash')
    const shortKey = `scrypt$${n}$8$1$${salt}$${Buffer.from(key, 'base64url').subarray(0, 16).toString('base64url')}`
    assert.equal(hasher.needsRehash(shortKey), true)
    // scrypt's output is PBKDF2's, so a 16-byte key is the first half of the 32-byte one: an old
    // hash with a shorter key still verifies, and log-in then redoes it at 32 bytes.
    assert.equal(await hasher.verify('correct horse battery', shortKey), true)
    for (const bad of ['', 'bcrypt$x', 'scrypt$4096$8$1$', 'scrypt$4095$8$1$c2FsdA$a2V5a2V5a2V5a2V5a2V5', 'scrypt$1e3$8$1$c2FsdA$a2V5a2V5a2V5a2V5a2V5']) {
      assert.equal(await hasher.verify('correct horse battery', bad), false, bad)
      assert.equal(hasher.needsRehash(bad), false, bad)
    }
  })

  test('a user whose hash is older logs in, and the stored hash is redone at the current cost', async () => {
    const h = await webHarness() // RAGTIME_PASSWORD_COST=12
    const api = h.client()
    assert.equal((await api.json('POST', '/auth/register', ann)).statusCode, 202)
    const old = await passwordHasher(10).hash(ann.password)
    await h.db.kysely.updateTable('users').set({ password_hash: old }).where('email', '=', ann.email).execute()
    const before = await storedHash(h, ann.email)

    const login = await api.json('POST', '/auth/login', { email: ann.email, password: ann.password })
    assert.equal(login.statusCode, 200)
    const after = await storedHash(h, ann.email)
    assert.notEqual(after.password_hash, old)
    assert.equal(costOf(after.password_hash), 12)
    assert.equal(await passwordHasher(12).verify(ann.password, after.password_hash), true)
    assert.equal(Number(after.password_changed_at), Number(before.password_changed_at), 'reset links stay valid')

    const again = await h.client().json('POST', '/auth/login', { email: ann.email, password: ann.password })
    assert.equal(again.statusCode, 200)
    assert.equal((await storedHash(h, ann.email)).password_hash, after.password_hash, 'no rehash once current')
  })

  test('a wrong password never rehashes', async () => {
    const h = await webHarness()
    await h.client().json('POST', '/auth/register', ann)
    const old = await passwordHasher(10).hash(ann.password)
    await h.db.kysely.updateTable('users').set({ password_hash: old }).where('email', '=', ann.email).execute()
    const wrong = await h.client().json('POST', '/auth/login', { email: ann.email, password: 'not my password' })
    assert.equal(wrong.statusCode, 401)
    assert.equal((await storedHash(h, ann.email)).password_hash, old)
  })

  test('a password change made while the rehash runs wins', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', ann)
    const old = await passwordHasher(10).hash(ann.password)
    await h.db.kysely.updateTable('users').set({ password_hash: old }).where('email', '=', ann.email).execute()
    const changed = await passwordHasher(12).hash('a brand new password')
    const current = passwordHasher(12)
    // Only what a log-in uses: the database, the clock and the hasher.
    const ctx: Pick<AccountsContext, 'db' | 'clock' | 'passwords'> = {
      db: h.db,
      clock: { now: () => Date.now() },
      passwords: {
        ...current,
        // The user resets the password between the check and the rehash's write.
        async hash(password) {
          await h.db.kysely.updateTable('users').set({ password_hash: changed }).where('email', '=', ann.email).execute()
          return current.hash(password)
        },
      },
    }
    const result = await checkCredentials(ctx as AccountsContext, ann.email, ann.password)
    assert.equal(result.ok, true)
    assert.equal((await storedHash(h, ann.email)).password_hash, changed)
    if (result.ok) assert.equal(result.user.passwordHash, old, 'the session is for the user as checked')
  })
})
