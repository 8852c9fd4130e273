import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

const KEY_LENGTH = 32
const BLOCK_SIZE = 8

interface Params {
  N: number
  r: number
  p: number
}

function derive(password: string, salt: Buffer, { N, r, p }: Params): Promise<Buffer> {
  // 128·N·r bytes of memory, with room to spare.
  const maxmem = 256 * N * r
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

export interface PasswordHasher {
  /** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
  hash(password: string): Promise<string>
  verify(password: string, stored: string): Promise<boolean>
  /** Takes as long as a real check and always fails: for an address with no account. */
  verifyDecoy(password: string): Promise<false>
}

/**
 * scrypt at N = 2^cost (default 15: 32 MiB, tens of milliseconds, on the libuv pool, so the
 * event loop never waits). RAGTIME_PASSWORD_COST lowers it for load tests only.
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
    const [scheme, n, r, p, salt, expected] = stored.split('$')
    if (scheme !== 'scrypt' || !salt || !expected) return false
    const want = Buffer.from(expected, 'base64url')
    const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) })
    return key.length === want.length && timingSafeEqual(key, want)
  }

  return {
    hash,
    verify,
    async verifyDecoy(password) {
      decoy ??= hash(randomBytes(16).toString('hex'))
      await verify(password, await decoy)
      return false
    },
  }
}
