import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { heapSettings } from '../../src/config/heap.ts'
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
      maxConnections: 50,
      rate: undefined,
      domainRates: new Map(),
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

  test('the sender is noreply at BASE_URL’s host, never the admin’s mailbox', () => {
    assert.equal(loadConfig({ RAGTIME_ADMIN: 'ops@gmail.com' }).mailSender, 'Ragtime <noreply@localhost>')
    assert.equal(
      loadConfig({ RAGTIME_ADMIN: 'ops@gmail.com', BASE_URL: 'https://ragtime.example.org' }).mailSender,
      'Ragtime <noreply@ragtime.example.org>',
    )
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

  test('production: SECRET_KEY, and what the command needs (BASE_URL, MAIL_SERVER), listed at once with any bad value', () => {
    const variables = (env: Record<string, string>, needs = {}) => {
      try {
        loadConfig(env, '/app', needs)
      } catch (err) {
        assert.ok(err instanceof ConfigError)
        return err.problems.map((p) => p.variable)
      }
      return []
    }
    const production = { NODE_ENV: 'production' }
    assert.deepEqual(variables(production, { baseUrl: true, relay: true }), ['SECRET_KEY', 'BASE_URL', 'MAIL_SERVER'])
    // A value that does not parse does not hide what is missing.
    assert.deepEqual(variables({ ...production, PORT: 'eighty', MAIL_SERVER: ' ' }, { baseUrl: true, relay: true }), ['PORT', 'SECRET_KEY', 'BASE_URL', 'MAIL_SERVER'])
    // Each command asks only for what it uses: migrate and mail … need neither.
    assert.deepEqual(variables(production), ['SECRET_KEY'])
    assert.deepEqual(variables(production, { relay: true }), ['SECRET_KEY', 'MAIL_SERVER'])
    const ready = { ...production, SECRET_KEY: 'a-production-secret-of-32-characters-or-more', BASE_URL: 'https://ragtime.example.com', MAIL_SERVER: 'smtp.example.com' }
    assert.equal(loadConfig(ready, '/app', { baseUrl: true, relay: true }).mailSender, 'Ragtime <noreply@ragtime.example.com>')
    assert.deepEqual(variables({ ...ready, BASE_URL: 'ragtime.example.com' }, { baseUrl: true }), ['BASE_URL'], 'an absolute URL')
    // Development keeps its defaults.
    assert.equal(loadConfig({}, '/app', { baseUrl: true, relay: true }).baseUrl, 'http://localhost:3000')
    assert.throws(() => loadConfig(production, '/app', { baseUrl: true }), /BASE_URL: is required when NODE_ENV=production: the absolute URL/)
  })

  test('NODE_ENV: production, development or test; anything else is refused, not taken for development', () => {
    assert.equal(loadConfig({ NODE_ENV: 'development' }).production, false)
    assert.equal(loadConfig({ NODE_ENV: 'test' }).production, false)
    assert.equal(loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'a-production-secret-of-32-characters-or-more' }).production, true)
    for (const typo of ['prod', 'Production', 'dev', 'staging']) {
      assert.throws(
        () => loadConfig({ NODE_ENV: typo }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.deepEqual(err.problems, [{ variable: 'NODE_ENV', message: `must be production, development or test (got "${typo}")` }])
          return true
        },
        typo,
      )
    }
  })

  test('RAGTIME_TRUST_PROXY: off, a hop count or proxy addresses; never "trust everyone"', () => {
    for (const off of [undefined, '', 'off', 'false', '0', 'OFF']) assert.equal(loadConfig({ RAGTIME_TRUST_PROXY: off }).trustProxy, false, String(off))
    assert.equal(loadConfig({ RAGTIME_TRUST_PROXY: '1' }).trustProxy, 1)
    assert.equal(loadConfig({ RAGTIME_TRUST_PROXY: ' 2 ' }).trustProxy, 2)
    assert.deepEqual(loadConfig({ RAGTIME_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8' }).trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'])
    for (const on of ['on', 'true', 'TRUE', 'yes']) {
      assert.throws(
        () => loadConfig({ RAGTIME_TRUST_PROXY: on }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.deepEqual(err.problems.map((p) => p.variable), ['RAGTIME_TRUST_PROXY'])
          assert.match(err.message, /number of reverse proxies .* or their addresses/)
          return true
        },
        on,
      )
    }
    for (const bad of ['11', '10.0.0.0/33', '::1/129', 'proxy.internal', '10.0.0.1,', '1.2.3', '10.0.0.0/8/1']) {
      assert.throws(() => loadConfig({ RAGTIME_TRUST_PROXY: bad }), /RAGTIME_TRUST_PROXY: /, bad)
    }
  })

  test('MAIL_FALLBACK_SERVER and its _PORT, _USE_TLS, _USE_SSL, _USERNAME, _PASSWORD, parsed like MAIL_*', () => {
    assert.equal(loadConfig({}).smtpFallback, undefined)
    assert.equal(loadConfig({ MAIL_SERVER: 'smtp.example.com' }).smtpFallback, undefined)
    assert.deepEqual(loadConfig({ MAIL_SERVER: 'smtp.example.com', MAIL_FALLBACK_SERVER: ' backup.example.net ' }).smtpFallback, {
      host: 'backup.example.net',
      port: 587,
      startTls: false,
      secure: false,
      username: undefined,
      password: undefined,
    })
    const config = loadConfig({
      MAIL_SERVER: 'smtp.example.com',
      MAIL_USERNAME: 'primary-user',
      MAIL_FALLBACK_SERVER: 'backup.example.net',
      MAIL_FALLBACK_PORT: '465',
      MAIL_FALLBACK_USE_SSL: 'true',
      MAIL_FALLBACK_USERNAME: 'backup-user',
      MAIL_FALLBACK_PASSWORD: 's3cret',
      MAIL_FALLBACK_USE_TLS: '',
    })
    assert.deepEqual(config.smtpFallback, {
      host: 'backup.example.net',
      port: 465,
      startTls: false,
      secure: true,
      username: 'backup-user',
      password: 's3cret',
    })
    assert.equal(config.smtp?.username, 'primary-user', 'each relay has its own credentials')
    assert.equal(
      loadConfig({ MAIL_SERVER: 'a', MAIL_FALLBACK_SERVER: 'b', MAIL_FALLBACK_USE_TLS: 'yes' }).smtpFallback?.startTls,
      true,
    )
  })

  test('MAIL_FALLBACK_*: every bad variable named', () => {
    const env = {
      MAIL_SERVER: 'smtp.example.com',
      MAIL_FALLBACK_SERVER: 'backup.example.net',
      MAIL_FALLBACK_PORT: '0',
      MAIL_FALLBACK_USE_TLS: 'maybe',
      MAIL_FALLBACK_USERNAME: 'a\r\nb',
    }
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['MAIL_FALLBACK_PORT', 'MAIL_FALLBACK_USERNAME', 'MAIL_FALLBACK_USE_TLS'])
        assert.match(err.message, /MAIL_FALLBACK_PORT: must be a whole number from 1 to 65535 \(got "0"\)/)
        return true
      },
    )
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env)
      } catch (err) {
        if (err instanceof ConfigError) return err.problems
        throw err
      }
      return []
    }
    assert.deepEqual(problems({ MAIL_FALLBACK_SERVER: 'backup.example.net' }), [
      { variable: 'MAIL_FALLBACK_SERVER', message: 'is a fallback for MAIL_SERVER: set MAIL_SERVER too' },
    ])
    assert.deepEqual(
      problems({ MAIL_SERVER: 'a', MAIL_FALLBACK_SERVER: 'b', MAIL_FALLBACK_USE_TLS: '1', MAIL_FALLBACK_USE_SSL: '1' }).map((p) => p.variable),
      ['MAIL_FALLBACK_USE_SSL'],
    )
    assert.deepEqual(
      problems({ MAIL_SERVER: 'Smtp.Example.com', MAIL_FALLBACK_SERVER: 'smtp.example.com' }).map((p) => p.variable),
      ['MAIL_FALLBACK_SERVER'],
      'the same server and port is no fallback',
    )
    assert.deepEqual(problems({ MAIL_SERVER: 'smtp.example.com', MAIL_FALLBACK_SERVER: 'smtp.example.com', MAIL_FALLBACK_PORT: '2525' }), [])
  })

  test('RAGTIME_METRICS_TOKEN: at least 32 characters when set', () => {
    assert.equal(loadConfig({}).metricsToken, undefined)
    const token = 'm'.repeat(32)
    assert.equal(loadConfig({ RAGTIME_METRICS_TOKEN: token }).metricsToken, token)
    assert.throws(() => loadConfig({ RAGTIME_METRICS_TOKEN: 'short' }), /RAGTIME_METRICS_TOKEN: must be at least 32 characters/)
    assert.throws(() => loadConfig({ RAGTIME_METRICS_TOKEN: `${token} x` }), /RAGTIME_METRICS_TOKEN: must be printable ASCII/)
  })

  test('RAGTIME_HEAP: lean unless set to node; anything else refused', () => {
    assert.equal(heapSettings({}).sizing, 'lean')
    assert.equal(heapSettings({ RAGTIME_HEAP: 'node' }).sizing, 'node')
    assert.equal(heapSettings({ RAGTIME_HEAP: 'big' }).sizing, 'lean', 'read before the configuration: loadConfig refuses it')
    assert.deepEqual(heapSettings({ NODE_OPTIONS: ' --max-semi-space-size=8  --enable-source-maps' }).nodeOptions, ['--max-semi-space-size=8', '--enable-source-maps'])
    loadConfig({ RAGTIME_HEAP: 'node' })
    assert.throws(() => loadConfig({ RAGTIME_HEAP: 'big' }), /RAGTIME_HEAP: must be lean or node \(got "big"\)/)
  })

  test('the mail path: bounce address, webhook secrets, DNS servers; each bad value named', () => {
    const config = loadConfig({ RAGTIME_BOUNCE_ADDRESS: 'Bounces@Mail.Example.com', RAGTIME_BOUNCE_SMTP_PORT: '2525', RAGTIME_WEBHOOK_MAILGUN_SECRET: 'key-1' })
    assert.equal(config.bounceAddress, 'Bounces@mail.example.com')
    assert.equal(config.bounceSmtpPort, 2525)
    assert.equal(config.webhookSecrets.mailgun, 'key-1')
    assert.equal(config.webhookSecrets.postmark, undefined)
    assert.deepEqual(loadConfig({}).dnsServers, [])
    assert.deepEqual(loadConfig({ RAGTIME_DNS_SERVERS: '1.1.1.1, 127.0.0.1:5353 [::1]:53' }).dnsServers, ['1.1.1.1', '127.0.0.1:5353', '[::1]:53'])
    assert.throws(() => loadConfig({ RAGTIME_DNS_SERVERS: 'dns.google' }), /RAGTIME_DNS_SERVERS: must be IP addresses/)
    assert.throws(() => loadConfig({ RAGTIME_BOUNCE_ADDRESS: 'bounces+x@example.com' }), /RAGTIME_BOUNCE_ADDRESS: must not contain "\+"/)
    assert.throws(() => loadConfig({ RAGTIME_BOUNCE_SMTP_PORT: '2525' }), /RAGTIME_BOUNCE_SMTP_PORT: receives bounces for RAGTIME_BOUNCE_ADDRESS/)
    assert.throws(() => loadConfig({ RAGTIME_DKIM_DOMAIN: 'example.com' }), /RAGTIME_DKIM_DOMAIN: is only used with/)
    assert.throws(() => loadConfig({ RAGTIME_DKIM_SELECTOR: 'a b', RAGTIME_DKIM_PRIVATE_KEY: 'x' }), /RAGTIME_DKIM_SELECTOR: must be a DNS label/)
  })

  test('the result is frozen, all the way down', () => {
    const config = loadConfig({})
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.delivery) && Object.isFrozen(config.database))
    assert.throws(() => {
      ;(config as { port: number }).port = 1
    }, TypeError)
  })
})
