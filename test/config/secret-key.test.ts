import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { withSecretKey } from '../../src/config/secret-key.ts'
import { tempDir } from '../helpers/env.ts'

describe('SECRET_KEY', () => {
  test('in development, generated once into the data folder (owner-only) and reused', () => {
    const dir = tempDir()
    const config = loadConfig({ DATABASE_URL: `sqlite:${path.join(dir, 'app.sqlite')}` })
    const first = withSecretKey(config).secretKey
    assert.ok(first.length >= 32)
    assert.equal(withSecretKey(config).secretKey, first, 'a restart keeps sessions and CSRF tokens valid')
    assert.equal(statSync(path.join(dir, 'secret-key')).mode & 0o777, 0o600)
  })

  test('SECRET_KEY wins when set, and production refuses to start without it', () => {
    const key = 'k'.repeat(40)
    assert.equal(withSecretKey(loadConfig({ SECRET_KEY: key })).secretKey, key)
    assert.throws(() => loadConfig({ NODE_ENV: 'production', MAIL_SERVER: 'smtp.example.test' }), /SECRET_KEY: is required/)
    assert.throws(() => loadConfig({ SECRET_KEY: 'short' }), /SECRET_KEY: must be at least 32 characters/)
  })
})
