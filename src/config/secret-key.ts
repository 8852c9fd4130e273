import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Config } from './index.ts'

/**
 * The configuration with a secret key: SECRET_KEY, or in development one generated on first
 * use and kept in the data folder (so sessions and links survive a restart).
 */
export function withSecretKey(config: Config): Config & { readonly secretKey: string } {
  if (config.secretKey) return config as Config & { secretKey: string }
  const file = path.join(config.dataDir, 'secret-key')
  mkdirSync(config.dataDir, { recursive: true })
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Already there (possibly written just now by another process): use that one.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return Object.freeze({ ...config, secretKey: readFileSync(file, 'utf8').trim() })
}
