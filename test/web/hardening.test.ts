import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildServer, type HttpLimits, listen } from '../../src/web/server.ts'
import { spawnRagtime, whileRunning } from '../helpers/cli.ts'
import { silentLogger, testEnv } from '../helpers/env.ts'
import { freePort, until } from '../helpers/wait.ts'
import { type WebHarness, webHarness } from '../helpers/web.ts'

const PASSWORD = 'correct horse battery'
const METRICS_TOKEN = 'metrics-token-0123456789-abcdefghijklmnop'

let people = 0
/** A JSON sign-up of a new person, as if from `remoteAddress` (the socket's peer). */
async function signUp(h: WebHarness, remoteAddress: string, forwardedFor?: string) {
  const n = ++people
  const response = await h.app.inject({
    method: 'POST',
    url: '/auth/register',
    remoteAddress,
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
    },
    payload: JSON.stringify({ email: `person${n}@example.test`, username: `person${n}`, password: PASSWORD }),
  })
  return response.statusCode
}

/** The sign-up limit is 10 an hour per IP: ten go through, the eleventh is a 429. */
async function assertLimitedAfterTen(send: (i: number) => Promise<number>, what: string) {
  for (let i = 0; i < 10; i++) assert.equal(await send(i), 202, `${what}: sign-up ${i + 1}`)
  assert.equal(await send(10), 429, `${what}: the eleventh sign-up`)
}

describe('RAGTIME_TRUST_PROXY: a client cannot pick the address it is limited under', () => {
  test('a hop count: the client rotating the leftmost X-Forwarded-For is still limited', async () => {
    const h = await webHarness({ worker: false, env: { RAGTIME_RATE_LIMITS: 'on', RAGTIME_TRUST_PROXY: '1' } })
    // One proxy (10.0.0.1) appends the address it saw; everything left of that is the client's own writing.
    await assertLimitedAfterTen((i) => signUp(h, '10.0.0.1', `198.51.100.${i}, 203.0.113.7`), 'through the proxy')
    assert.equal(await signUp(h, '10.0.0.1', '203.0.113.7'), 429, 'the same client without the spoofed part')
    // Keyed on the client, not on the proxy: another client through the same proxy is not limited.
    assert.equal(await signUp(h, '10.0.0.1', '198.51.100.1, 203.0.113.8'), 202)
  })

  test('proxy addresses: trusted hops are skipped, a spoofed leftmost value is not believed', async () => {
    const h = await webHarness({ worker: false, env: { RAGTIME_RATE_LIMITS: 'on', RAGTIME_TRUST_PROXY: '127.0.0.1,10.0.0.0/8' } })
    await assertLimitedAfterTen((i) => signUp(h, '10.1.2.3', `198.51.100.${i}, 203.0.113.7`), 'through a listed proxy')
    // Two listed proxies in a row: the client is the first address that is not one of them.
    assert.equal(await signUp(h, '10.1.2.3', '198.51.100.99, 203.0.113.7, 10.0.0.5'), 429)
    assert.equal(await signUp(h, '10.1.2.3', '198.51.100.99, 203.0.113.9, 10.0.0.5'), 202)
  })

  test('a request from an address that is not a listed proxy is keyed on its socket address, whatever it forwards', async () => {
    const h = await webHarness({ worker: false, env: { RAGTIME_RATE_LIMITS: 'on', RAGTIME_TRUST_PROXY: '127.0.0.1,10.0.0.0/8' } })
    await assertLimitedAfterTen((i) => signUp(h, '192.0.2.50', `10.0.0.${i + 1}`), 'a direct client')
    assert.equal(await signUp(h, '192.0.2.50'), 429)
    assert.equal(await signUp(h, '192.0.2.51', '192.0.2.50'), 202, 'another socket address is another client')
  })

  test('off (the default): X-Forwarded-For is ignored', async () => {
    const h = await webHarness({ worker: false, env: { RAGTIME_RATE_LIMITS: 'on' } })
    await assertLimitedAfterTen((i) => signUp(h, '127.0.0.1', `198.51.100.${i}`), 'from the loopback')
  })
})

/** Resolves true when `socket` closes within `ms`, false if it is still open then. */
async function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.closed) return true
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ])
  clearTimeout(timer)
  return closed
}

async function openSocket(host: string, port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect({ host, port })
  let received = ''
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')))
  socket.on('error', () => {}) // a reset is one of the ways a refused connection ends
  await Promise.race([
    once(socket, 'connect'),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no connection to ${host}:${port}`)), 5_000)),
  ])
  return { socket, received: () => received }
}

/** Sends a POST's headers promising 100 bytes of body, then nothing; how long until the server hangs up. */
async function stalledPost(host: string, port: number) {
  const { socket, received } = await openSocket(host, port)
  const started = Date.now()
  socket.write(
    'POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=',
  )
  const closed = await closesWithin(socket, 5_000)
  socket.destroy()
  return { closed, afterMs: Date.now() - started, received: received() }
}

async function canListenOnIpv6Loopback(): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(0, '::1', () => probe.close(() => resolve(true)))
  })
}

const SHORT: Partial<HttpLimits> = { requestTimeoutMs: 400, headersTimeoutMs: 400, checkIntervalMs: 50, idleTimeoutMs: 20_000 }

describe('slow clients and too many connections (a real listening server)', () => {
  test('a POST whose body never arrives is answered 408 and closed, on 127.0.0.1 and on ::1', async () => {
    const h = await webHarness({ worker: false })
    const app = await buildServer(h.deps, silentLogger, SHORT)
    const port = await freePort()
    const stop = await listen(app, 'localhost', port)
    try {
      const hosts = (await canListenOnIpv6Loopback()) ? ['127.0.0.1', '::1'] : ['127.0.0.1']
      for (const result of await Promise.all(hosts.map((host) => stalledPost(host, port)))) {
        assert.ok(result.closed, 'the server closed the connection')
        assert.ok(result.afterMs < 4_000, `closed after ${result.afterMs} ms, for a 400 ms request timeout`)
        assert.match(result.received, /^$|^HTTP\/1\.1 408 /)
      }
      // The server itself is fine.
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
    } finally {
      await stop()
    }
  })

  test('a connection beyond the cap is closed at once; the ones within it are served', async () => {
    const h = await webHarness({ worker: false })
    const app: FastifyInstance = await buildServer(h.deps, silentLogger, { maxConnections: 2 })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const sockets: Socket[] = []
    try {
      const { port } = app.server.address() as { port: number }
      const first = await openSocket('127.0.0.1', port)
      const second = await openSocket('127.0.0.1', port)
      sockets.push(first.socket, second.socket)
      const connections = () => new Promise<number>((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
      await until(async () => (await connections()) === 2, 'the server to hold both connections', 5_000)

      const third = await openSocket('127.0.0.1', port)
      sockets.push(third.socket)
      third.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
      assert.ok(await closesWithin(third.socket, 3_000), 'the third connection is closed')
      assert.equal(third.received(), '', 'and gets no answer')

      first.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
      assert.ok(await closesWithin(first.socket, 5_000))
      assert.match(first.received(), /^HTTP\/1\.1 200 /)
    } finally {
      for (const socket of sockets) socket.destroy()
      await app.close()
    }
  })
})

describe('/metrics and /healthz are not oracles', () => {
  test('production without RAGTIME_METRICS_TOKEN: /metrics is a 404', async () => {
    const h = await webHarness({ worker: false, env: { NODE_ENV: 'production' } })
    const response = await h.client().get('/metrics')
    assert.equal(response.statusCode, 404)
    assert.doesNotMatch(response.body, /ragtime_mail/)
  })

  for (const env of [{ NODE_ENV: 'production' }, {}] as Record<string, string>[]) {
    test(`with a token${env.NODE_ENV ? ' (production)' : ' (development)'}: 401 without it or with a wrong one, 200 with it`, async () => {
      const h = await webHarness({ worker: false, env: { ...env, RAGTIME_METRICS_TOKEN: METRICS_TOKEN } })
      const scrape = (authorization?: string) => h.client().get('/metrics', authorization === undefined ? {} : { authorization })
      for (const authorization of [undefined, `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, `Basic ${METRICS_TOKEN}`, 'Bearer']) {
        const refused = await scrape(authorization)
        assert.equal(refused.statusCode, 401, String(authorization))
        assert.match(String(refused.headers['www-authenticate']), /^Bearer\b/)
        assert.doesNotMatch(refused.body, /ragtime_mail/)
      }
      const ok = await scrape(`Bearer ${METRICS_TOKEN}`)
      assert.equal(ok.statusCode, 200)
      assert.match(ok.body, /^# (HELP|TYPE) ragtime_/m)
      assert.equal(ok.headers['cache-control'], 'no-store')
    })
  }

  test('/healthz says ok and nothing about the outbox', async () => {
    const h = await webHarness()
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: PASSWORD })
    await h.mailTo('ann@example.test')
    const health = await h.client().get('/healthz')
    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { status: 'ok', db: 'ok' })
  })

  test('ragtime worker --metrics-port: 401 without the token, 200 with it', async () => {
    const port = await freePort()
    const env = testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(await freePort()), RAGTIME_METRICS_TOKEN: METRICS_TOKEN, HOST: '127.0.0.1' })
    const worker = spawnRagtime(['worker', '--metrics-port', String(port)], env)
    const url = `http://127.0.0.1:${port}/metrics`
    const answers = async () => fetch(url).then(() => true, () => false)
    await whileRunning([worker], until(answers, 'the worker’s metrics port'))
    const refused = await fetch(url)
    assert.equal(refused.status, 401)
    assert.match(String(refused.headers.get('www-authenticate')), /^Bearer\b/)
    assert.doesNotMatch(await refused.text(), /ragtime_mail/)
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-token-wrong-token-wrong-token-0' } })).status, 401)
    const ok = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    assert.equal(ok.status, 200)
    assert.match(await ok.text(), /^# (HELP|TYPE) ragtime_mail_/m)
    worker.child.kill('SIGTERM')
    assert.equal((await worker.exited).code, 0)
  })

  test('ragtime worker --metrics-port in production without a token: 404', async () => {
    const port = await freePort()
    const env = testEnv({
      NODE_ENV: 'production',
      SECRET_KEY: 'test-secret-key-that-is-long-enough-0123456789',
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(await freePort()),
      HOST: '127.0.0.1',
    })
    const worker = spawnRagtime(['worker', '--metrics-port', String(port)], env)
    const url = `http://127.0.0.1:${port}/metrics`
    await whileRunning([worker], until(async () => fetch(url).then(() => true, () => false), 'the worker’s metrics port'))
    assert.equal((await fetch(url)).status, 404)
    worker.child.kill('SIGTERM')
    assert.equal((await worker.exited).code, 0)
  })
})

describe('a malformed URL', () => {
  test('is a plain 400 that does not echo the path, with the usual security headers', async () => {
    const h = await webHarness({ worker: false })
    for (const accept of ['text/html', 'application/json']) {
      const response = await h.app.inject({ method: 'GET', url: '/%E0%A4%A<script>', headers: { accept } })
      assert.equal(response.statusCode, 400, accept)
      assert.doesNotMatch(response.body, /%E0|%A4|script/i, 'the path is not echoed')
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/)
      assert.equal(response.headers['x-content-type-options'], 'nosniff')
      assert.equal(response.headers['referrer-policy'], 'no-referrer')
      assert.equal(response.headers['x-frame-options'], 'DENY')
      assert.equal(response.headers['cache-control'], 'no-store')
      if (accept === 'application/json') {
        assert.deepEqual(response.json(), { error: { code: 'bad_request', message: 'This address is not valid.' } })
      } else {
        assert.match(String(response.headers['content-type']), /^text\/html/)
      }
    }
  })
})

describe('Cache-Control', () => {
  test('no-store on every dynamic answer; the static files keep their own', async () => {
    const h = await webHarness()
    const api = h.client()
    await api.json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: PASSWORD })
    const token = 'A'.repeat(43)
    for (const url of ['/', '/auth/login', '/auth/register', `/auth/confirm/${token}`, `/auth/reset/${token}`, `/auth/change-email/${token}`, '/api/me', '/healthz', '/nope']) {
      assert.equal((await api.get(url)).headers['cache-control'], 'no-store', url)
      assert.equal((await api.json('GET', url)).headers['cache-control'], 'no-store', `${url} as JSON`)
    }
    const login = await api.json('POST', '/auth/login', { email: 'ann@example.test', password: PASSWORD })
    assert.equal(login.statusCode, 200)
    assert.equal(login.headers['cache-control'], 'no-store')
    for (const url of ['/api/me', '/auth/unconfirmed', '/auth/change-email']) {
      assert.equal((await api.get(url)).headers['cache-control'], 'no-store', `${url}, logged in`)
    }
    assert.equal((await api.get('/static/app.css')).headers['cache-control'], 'public, max-age=3600')
  })
})

describe('/dev: loopback only, development without MAIL_SERVER only', () => {
  test('another Host (DNS rebinding) gets a 404; localhost, 127.0.0.1 and [::1] get the inbox', async () => {
    const h = await webHarness({ worker: false, devInbox: true })
    for (const host of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io:3000', '0.0.0.0:3000']) {
      for (const url of ['/dev/mail', '/dev/mail/messages', '/dev/mail/previews', '/static/dev-inbox.js']) {
        assert.equal((await h.client().get(url, { host })).statusCode, 404, `${host} ${url}`)
      }
      assert.equal((await h.client().json('GET', '/dev/mail/messages', undefined, { host })).statusCode, 404)
    }
    for (const host of ['localhost', 'localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'LOCALHOST']) {
      assert.equal((await h.client().get('/dev/mail', { host })).statusCode, 200, host)
    }
  })

  test('behind a trusted proxy, the forwarded Host counts too', async () => {
    const h = await webHarness({ worker: false, devInbox: true, env: { RAGTIME_TRUST_PROXY: '127.0.0.1' } })
    const response = await h.app.inject({ method: 'GET', url: '/dev/mail', remoteAddress: '127.0.0.1', headers: { host: 'localhost:3000', 'x-forwarded-host': 'evil.example' } })
    assert.equal(response.statusCode, 404)
  })

  test('with MAIL_SERVER set, every /dev path is a 404', async () => {
    const h = await webHarness({ worker: false })
    for (const url of ['/dev/mail', '/dev/mail/messages', '/dev/mail/previews', '/static/dev-inbox.js']) {
      assert.equal((await h.client().get(url)).statusCode, 404, url)
    }
  })
})

describe('the CSRF cookie is replaced at log-in', () => {
  test('a token from before log-in is refused after it; a fresh page’s token works', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: PASSWORD })
    const browser = h.client()
    await browser.get('/auth/login')
    const before = { token: browser.csrf, cookie: browser.cookies.get('ragtime_csrf') }
    assert.ok(before.token && before.cookie)

    const login = await browser.form('/auth/login', { email: 'ann@example.test', password: PASSWORD })
    assert.equal(login.statusCode, 303)
    const after = browser.cookies.get('ragtime_csrf')
    assert.ok(after && after !== before.cookie, 'a new CSRF cookie comes with the session')

    const stale = await browser.form('/auth/logout', { _csrf: before.token }, { csrf: false })
    assert.equal(stale.statusCode, 403)
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 200, 'still logged in')

    await browser.get('/auth/unconfirmed')
    assert.notEqual(browser.csrf, before.token)
    assert.equal((await browser.form('/auth/logout', { _csrf: browser.csrf }, { csrf: false })).statusCode, 303)
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 401)
  })

  test('a JSON log-in replaces it too', async () => {
    const h = await webHarness({ worker: false })
    const api = h.client()
    await api.json('POST', '/auth/register', { email: 'bob@example.test', username: 'bob', password: PASSWORD })
    await api.get('/auth/login')
    const before = api.cookies.get('ragtime_csrf')
    assert.equal((await api.json('POST', '/auth/login', { email: 'bob@example.test', password: PASSWORD })).statusCode, 200)
    assert.notEqual(api.cookies.get('ragtime_csrf'), before)
  })
})

describe('__Host- cookies behind HTTPS', () => {
  const cookieLines = (header: string | string[] | undefined) => (Array.isArray(header) ? header : header ? [header] : [])
  const assertHostCookie = (line: string | undefined, name: string) => {
    assert.ok(line, `${name} is set`)
    assert.match(line, new RegExp(`^${name}=[^;]+`))
    assert.match(line, /; Secure(;|$)/)
    assert.match(line, /; Path=\/(;|$)/)
    assert.match(line, /; HttpOnly(;|$)/)
    assert.match(line, /; SameSite=Lax(;|$)/i)
    assert.doesNotMatch(line, /; Domain=/i)
  }

  test('https BASE_URL: __Host-ragtime_session and __Host-ragtime_csrf, Secure, Path=/, no Domain', async () => {
    const h = await webHarness({ worker: false, env: { BASE_URL: 'https://ragtime.test' } })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: PASSWORD })
    const browser = h.client()
    const page = await browser.get('/auth/login')
    assertHostCookie(cookieLines(page.headers['set-cookie']).find((c) => c.startsWith('__Host-ragtime_csrf=')), '__Host-ragtime_csrf')

    const login = await browser.form('/auth/login', { email: 'ann@example.test', password: PASSWORD })
    assert.equal(login.statusCode, 303)
    const set = cookieLines(login.headers['set-cookie'])
    assertHostCookie(set.find((c) => c.startsWith('__Host-ragtime_session=')), '__Host-ragtime_session')
    assertHostCookie(set.find((c) => c.startsWith('__Host-ragtime_csrf=')), '__Host-ragtime_csrf')
    assertHostCookie(set.find((c) => c.startsWith('__Host-ragtime_device=')), '__Host-ragtime_device')
    assert.ok(set.every((c) => c.startsWith('__Host-')), 'no cookie under the old names')
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 200, 'the session works under its new name')

    await browser.get('/auth/unconfirmed')
    const logout = await browser.form('/auth/logout', { _csrf: browser.csrf }, { csrf: false })
    assert.equal(logout.statusCode, 303)
    assert.ok(cookieLines(logout.headers['set-cookie']).some((c) => /^__Host-ragtime_session=;/.test(c)), 'log-out clears it')
    assert.equal((await browser.json('GET', '/api/me')).statusCode, 401)
  })

  test('http BASE_URL keeps the plain names', async () => {
    const h = await webHarness({ worker: false })
    await h.client().json('POST', '/auth/register', { email: 'ann@example.test', username: 'ann', password: PASSWORD })
    const login = await h.client().json('POST', '/auth/login', { email: 'ann@example.test', password: PASSWORD })
    const names = cookieLines(login.headers['set-cookie']).map((c) => c.split('=')[0]).sort()
    assert.deepEqual(names, ['ragtime_csrf', 'ragtime_device', 'ragtime_session'])
  })
})
