import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config/index.ts'

describe('loadConfig', () => {
  test('the embedded defaults', () => {
    const config = loadConfig({}, '/srv/app')
    assert.deepEqual(config.database, { kind: 'sqlite', path: '/srv/app/data/ragtime.sqlite' })
    assert.equal(config.port, 3000)
    assert.equal(config.baseUrl, 'http://localhost:3000')
    assert.equal(config.smtp, undefined)
    assert.equal(config.mailSubjectPrefix, 'Ragtime — ')
    assert.equal(config.mailSender, 'Ragtime <noreply@localhost>')
    assert.deepEqual(config.delivery, {
      concurrency: 5,
      batchSize: 100,
      retryFirstMs: 5_000,
      retryMaxMs: 300_000,
      giveUpMs: 86_400_000,
      leaseMs: 30_000,
      shutdownGraceMs: 10_000,
      pollMs: 1_000,
      retentionMs: 30 * 86_400_000,
    })
    assert.equal(config.devSmtpPort, 1025)
    assert.equal(config.production, false)
  })

  test('the sender follows RAGTIME_ADMIN, then BASE_URL’s host', () => {
    assert.equal(loadConfig({ RAGTIME_ADMIN: 'Boss@Example.COM' }).mailSender, 'Ragtime Admin <Boss@example.com>')
    assert.equal(loadConfig({ BASE_URL: 'https://mail.example.org/' }).mailSender, 'Ragtime <noreply@mail.example.org>')
    assert.equal(loadConfig({ RAGTIME_MAIL_SENDER: 'Team <team@example.org>' }).mailSender, 'Team <team@example.org>')
  })

  test('every form of DATABASE_URL', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:db/x.sqlite' }, '/app').database, { kind: 'sqlite', path: '/app/db/x.sqlite' })
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:/var/x.sqlite' }).database, { kind: 'sqlite', path: '/var/x.sqlite' })
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/x.sqlite' }).database, { kind: 'sqlite', path: '/var/x.sqlite' })
    assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).database, { kind: 'postgres', url: 'postgres://u@h/db' })
  })

  test('SMTP settings use the Flask-Mail names', () => {
    const config = loadConfig({ MAIL_SERVER: 'smtp.example.org', MAIL_USE_TLS: 'true', MAIL_USERNAME: 'u', MAIL_PASSWORD: 'p' })
    assert.deepEqual(config.smtp, {
      host: 'smtp.example.org',
      port: 587,
      startTls: true,
      secure: false,
      username: 'u',
      password: 'p',
    })
  })

  test('one error names every bad variable at once', () => {
    const env = {
      PORT: 'eighty',
      MAIL_PORT: '70000',
      RAGTIME_MAIL_CONCURRENCY: '0',
      RAGTIME_MAIL_RETRY_FIRST: 'soon',
      RAGTIME_ADMIN: 'not an address',
      DATABASE_URL: 'mysql://nope',
      RAGTIME_MAIL_SUBJECT_PREFIX: 'Hi\r\nBcc: x@y.z',
    }
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), Object.keys(env).sort())
        assert.match(err.message, /MAIL_PORT: must be a whole number from 1 to 65535 \(got "70000"\)/)
        return true
      },
    )
  })

  test('the result is frozen, all the way down', () => {
    const config = loadConfig({})
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.delivery) && Object.isFrozen(config.database))
    assert.throws(() => {
      ;(config as { port: number }).port = 1
    }, TypeError)
  })
})
