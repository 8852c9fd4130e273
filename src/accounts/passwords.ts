import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { channel } from 'node:diagnostics_channel'

const KEY_LENGTH = 32
const BLOCK_SIZE = 8

/**
 * Every scrypt run (a hash, a check, a decoy check) is published here with its `{ N, r, p }`
 * before it starts: what a test counts to show that two paths hash alike (node:diagnostics_channel,
 * free while nobody subscribes).
 */
export const SCRYPT_CHANNEL = 'ragtime:scrypt'
const scryptRuns = channel(SCRYPT_CHANNEL)

interface Params {
  N: number
  r: number
  p: number
}

interface Stored extends Params {
  salt: Buffer
  key: Buffer
}

function derive(password: string, salt: Buffer, { N, r, p }: Params, keyLength = KEY_LENGTH): Promise<Buffer> {
  // scrypt needs 128·N·r bytes (plus a little); Node refuses more than maxmem, 32 MiB by default.
  const maxmem = 256 * N * r
  if (scryptRuns.hasSubscribers) scryptRuns.publish({ N, r, p })
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keyLength, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

const INTEGER = /^[1-9][0-9]{0,9}$/

/** `scrypt$N$r$p$salt$hash`, or undefined when it is not one this hasher can check. */
function parse(stored: string): Stored | undefined {
  const [scheme, n, r, p, salt, key, ...rest] = stored.split('$')
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key || rest.length > 0) return undefined
  if (!INTEGER.test(n) || !INTEGER.test(r) || !INTEGER.test(p)) return undefined
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  // Sane bounds only (a corrupt row must not ask for gigabytes): N a power of two up to 2^20.
  if (params.N < 2 || params.N > 2 ** 20 || (params.N & (params.N - 1)) !== 0 || params.r > 32 || params.p > 16) return undefined
  const keyBytes = Buffer.from(key, 'base64url')
  if (keyBytes.length < 16 || keyBytes.length > 64) return undefined
  return { ...params, salt: Buffer.from(salt, 'base64url'), key: keyBytes }
}

export interface PasswordHasher {
  /** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
  hash(password: string): Promise<string>
  /** Checks a password against a stored hash made with any parameters, old ones included. */
  verify(password: string, stored: string): Promise<boolean>
  /** Takes as long as a real check and always fails: for an address with no account. */
  verifyDecoy(password: string): Promise<false>
  /** True when the stored hash was made with other parameters (N, r, p, key length) than `hash` uses now. */
  needsRehash(stored: string): boolean
}

/**
 * scrypt at N = 2^cost, r = 8, p = 1 (default 17: OWASP's minimum, 128 MiB and a few hundred
 * milliseconds per hash, on the libuv pool, so the event loop never waits).
 * RAGTIME_PASSWORD_COST lowers it for load tests and the test suite only.
 */
export function passwordHasher(cost: number): PasswordHasher {
  const params: Params = { N: 2 ** cost, r: BLOCK_SIZE, p: 1 }
  let decoy: Promise<string> | undefined

  const hash = async (password: string) => {
    const salt = randomBytes(16)
    const key = await derive(password, salt, params)
    return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$')
  }

  const verify = async (password: string, stored: string) => {
    const parsed = parse(stored)
    if (!parsed) return false
    const key = await derive(password, parsed.salt, parsed, parsed.key.length)
    return timingSafeEqual(key, parsed.key)
  }

  return {
    hash,
    verify,
    async verifyDecoy(password) {
      decoy ??= hash(randomBytes(16).toString('hex'))
      await verify(password, await decoy)
      return false
    },
    needsRehash(stored) {
      const parsed = parse(stored)
      if (!parsed) return false
      return parsed.N !== params.N || parsed.r !== params.r || parsed.p !== params.p || parsed.key.length !== KEY_LENGTH
    },
  }
}
