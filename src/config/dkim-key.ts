import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * RAGTIME_DKIM_PRIVATE_KEY: a PEM, or the path of a file holding one. Only RSA keys of at least
 * 2048 bits: the signer (nodemailer's) writes rsa-sha256, and receivers ignore shorter keys.
 * Returns the PEM (PKCS#8) or a problem in plain words.
 */
export function readDkimKey(value: string, cwd: string): { ok: true; pem: string } | { ok: false; message: string } {
  let text = value.replace(/\\n/g, '\n')
  if (!text.includes('-----BEGIN')) {
    const file = path.resolve(cwd, value)
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      return { ok: false, message: `is neither a PEM nor a readable file (${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` }
    }
  }
  let key: KeyObject
  try {
    key = createPrivateKey(text)
  } catch {
    return { ok: false, message: 'is not a PEM private key' }
  }
  if (key.asymmetricKeyType !== 'rsa') {
    return { ok: false, message: `must be an RSA key (got ${key.asymmetricKeyType ?? 'an unknown type'}): openssl genrsa 2048` }
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < 2048) return { ok: false, message: `must have at least 2048 bits (got ${bits}): receivers ignore shorter keys` }
  return { ok: true, pem: key.export({ type: 'pkcs8', format: 'pem' }).toString() }
}
