import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, describe, test } from 'node:test'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { classifyFailure } from '../../packages/outbox/src/failure.ts'
import { SmtpPool } from '../../packages/outbox/src/transports/smtp-pool.ts'
import { smtpTransport } from '../../packages/outbox/src/transports/smtp.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'

const envelope = (to: string) => ({ from: 'noreply@ragtime.test', to: [to] })
const message = (n: number) =>
  `From: noreply@ragtime.test\r\nTo: user${n}@example.test\r\nSubject: ${n}\r\n\r\nline one\r\n.a line that starts with a dot\r\n`

function pool(sink: Pick<SmtpSink, 'port'>, options: { maxConnections?: number; maxMessages?: number } = {}): SmtpPool {
  const p = new SmtpPool({
    connection: { host: '127.0.0.1', port: sink.port, ignoreTLS: true, connectionTimeout: 5_000, greetingTimeout: 5_000 },
    auth: undefined,
    maxConnections: options.maxConnections ?? 2,
    maxMessages: options.maxMessages ?? 1_000,
  })
  after(() => p.close())
  return p
}

/** A bare smtp-server on 127.0.0.1 with the given hooks (closed after the test). */
async function listen(hooks: Partial<SMTPServerOptions>): Promise<{ port: number }> {
  const server = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], closeTimeout: 500, logger: false, ...hooks })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.server.address()
  return { port: typeof address === 'object' && address ? address.port : 0 }
}

async function sink(options: Parameters<typeof startSmtpSink>[0] = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(options)
  after(() => s.close())
  return s
}

describe('SMTP connection pool', () => {
  test('sends each stored message as it is, over at most maxConnections reused connections', async () => {
    const s = await sink()
    const p = pool(s, { maxConnections: 3 })
    const infos = await Promise.all(Array.from({ length: 30 }, (_, n) => p.send(envelope(`user${n}@example.test`), message(n))))

    assert.equal(s.received.length, 30)
    assert.ok(infos.every((info) => /^250 /.test(info.response)), 'each send resolves with the server reply')
    assert.equal(s.connections.max, 3)
    assert.equal(s.connections.opened, 3, 'connections are reused, not opened per message')
    const first = s.received.find((mail) => mail.envelope.to[0] === 'user0@example.test')
    assert.equal(first?.raw, message(0), 'the body arrives byte for byte (dot-stuffing undone by the server)')
  })

  test('a connection says QUIT after maxMessages and a fresh one takes over', async () => {
    const s = await sink()
    const p = pool(s, { maxConnections: 1, maxMessages: 3 })
    await Promise.all(Array.from({ length: 7 }, (_, n) => p.send(envelope(`user${n}@example.test`), message(n))))
    assert.equal(s.received.length, 7)
    assert.equal(s.connections.opened, 3)
    assert.equal(s.connections.max, 1)
  })

  test('a refused message rejects with the reply and leaves the connection in use', async () => {
    const s = await sink({ verdict: (n) => (n === 2 ? { code: 550, message: '5.1.1 No such user' } : 'accept') })
    const p = pool(s, { maxConnections: 1 })
    await p.send(envelope('a@example.test'), message(1))
    await assert.rejects(p.send(envelope('b@example.test'), message(2)), (error: { responseCode?: number; response?: string }) => {
      assert.equal(error.responseCode, 550)
      assert.match(error.response ?? '', /5\.1\.1 No such user/)
      return true
    })
    await p.send(envelope('c@example.test'), message(3))
    assert.equal(s.received.length, 2)
    assert.equal(s.connections.opened, 1, 'reset after the refusal, not reconnected')
  })

  test('connections the server drops while idle leave the pool; one fresh connection replaces them', async () => {
    const s = await sink()
    const p = pool(s, { maxConnections: 2 })
    await Promise.all([p.send(envelope('a@example.test'), message(1)), p.send(envelope('b@example.test'), message(2))])
    const opened = s.connections.opened
    s.dropConnections()
    // The pool opens its warm connection again only once every connection it had is gone from it.
    await until(() => s.connections.opened === opened + 1 && s.connections.current === 1, 'one fresh connection, and only it, open')

    await p.send(envelope('c@example.test'), message(3))
    assert.equal(s.received.length, 3)
    assert.equal(s.connections.opened, opened + 1, 'the message goes over the fresh connection')
  })

  test('a send that races the server closing an idle connection goes out over a fresh one', async () => {
    const s = await sink()
    const p = pool(s, { maxConnections: 1 })
    await p.send(envelope('a@example.test'), message(1))
    s.dropConnections()
    // Handed the idle connection before its close is seen: the first try fails on it.
    await p.send(envelope('b@example.test'), message(2))
    assert.deepEqual(
      s.received.map((mail) => mail.envelope.to[0]),
      ['a@example.test', 'b@example.test'],
    )
    assert.equal(s.connections.opened, 2)
  })

  test('a 421 to the envelope reaches the caller with the server reply, as a transient failure', async () => {
    const server = await listen({
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('4.7.0 Too busy, try later'), { responseCode: 421 }))
      },
    })
    const p = pool(server, { maxConnections: 1 })
    await assert.rejects(p.send(envelope('a@example.test'), message(1)), (error: { responseCode?: number; response?: string }) => {
      assert.equal(error.responseCode, 421)
      assert.match(error.response ?? '', /Too busy/)
      assert.equal(classifyFailure(error).kind, 'transient')
      return true
    })
  })

  test('a server that refuses the connection (554 greeting) fails the send as transient, not the message', async () => {
    const server = await listen({
      onConnect(_session, callback) {
        callback(new Error('5.7.1 Your IP is on a blocklist'))
      },
    })
    const p = pool(server, { maxConnections: 1 })
    await assert.rejects(p.send(envelope('a@example.test'), message(1)), (error: { responseCode?: number }) => {
      assert.equal(error.responseCode, 554)
      const failure = classifyFailure(error)
      assert.equal(failure.kind, 'transient')
      assert.equal(failure.suppress, false)
      assert.match(failure.message, /554.*Your IP is on a blocklist/, 'last_error carries the server’s answer')
      return true
    })
  })

  test('a server that hangs up before its greeting: the send fails with that cause, transient', async () => {
    const server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const address = server.address()
    const p = pool({ port: typeof address === 'object' && address ? address.port : 0 }, { maxConnections: 1 })
    await assert.rejects(p.send(envelope('a@example.test'), message(1)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ECONNECTION')
      assert.match(error.message, /closed unexpectedly/)
      assert.equal(classifyFailure(error).kind, 'transient')
      return true
    })
  })

  test('a server that is down fails each waiting send, without hanging; once up, sending works', async () => {
    const s = await sink()
    const port = s.port
    await s.close()
    const p = pool({ port }, { maxConnections: 2 })
    const failures = await Promise.allSettled(Array.from({ length: 5 }, (_, n) => p.send(envelope(`u${n}@example.test`), message(n))))
    assert.deepEqual(
      failures.map((f) => f.status),
      ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'],
    )
    for (const failure of failures) {
      assert.equal(classifyFailure((failure as PromiseRejectedResult).reason).kind, 'transient', 'the worker will try again')
    }

    const back = await sink({ port })
    await p.send(envelope('late@example.test'), message(9))
    assert.equal(back.received.length, 1)
  })

  test('close() rejects the sends in flight and those waiting for a connection', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    after(() => release())
    let arrived!: () => void
    const offered = new Promise<void>((resolve) => (arrived = resolve))
    const s = await sink({
      verdict: () => {
        arrived()
        return held.then(() => 'accept' as const)
      },
    })
    const p = pool(s, { maxConnections: 1 })
    const inFlight = p.send(envelope('a@example.test'), message(1))
    const waiting = p.send(envelope('b@example.test'), message(2))
    await offered // the first message is with the server, which holds its answer
    const outcomes = Promise.allSettled([inFlight, waiting])
    p.close()
    const [first, second] = await outcomes
    assert.equal(first.status, 'rejected')
    assert.match(String((second as PromiseRejectedResult).reason), /pool was closed/)
    await assert.rejects(p.send(envelope('c@example.test'), message(3)), /pool was closed/)
  })
})

describe('SMTP transport settings', () => {
  test('MAIL_USERNAME and MAIL_PASSWORD log in; a wrong password fails with EAUTH', async () => {
    const logins: string[] = []
    const { port } = await listen({
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, callback) {
        logins.push(auth.username ?? '')
        if (auth.username === 'ragtime' && auth.password === 'secret') callback(null, { user: auth.username })
        else callback(new Error('Invalid username or password'))
      },
    })
    const settings = { host: '127.0.0.1', port, secure: false, startTls: false, maxConnections: 1 } as const

    const good = smtpTransport({ ...settings, username: 'ragtime', password: 'secret' })
    after(() => good.close())
    assert.match((await good.send({ raw: message(1), envelope: envelope('a@example.test') })).response, /^250 /)

    const bad = smtpTransport({ ...settings, username: 'ragtime', password: 'wrong' })
    after(() => bad.close())
    await assert.rejects(bad.send({ raw: message(2), envelope: envelope('b@example.test') }), { code: 'EAUTH' })
    assert.deepEqual(logins, ['ragtime', 'ragtime'])
  })

  test('MAIL_USE_TLS requires STARTTLS: a server without it gets no message', async () => {
    const s = await sink()
    const transport = smtpTransport({ host: '127.0.0.1', port: s.port, secure: false, startTls: true, username: undefined, password: undefined, maxConnections: 1 })
    after(() => transport.close())
    await assert.rejects(transport.send({ raw: message(1), envelope: envelope('a@example.test') }), (error) => {
      assert.equal((error as { code?: string }).code, 'ETLS')
      assert.equal(classifyFailure(error).kind, 'transient', 'a configuration problem, not a bad message')
      return true
    })
    assert.equal(s.offered(), 0)
  })
})
