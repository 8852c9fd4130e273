// The SMTP pool's warm connection (issue 12, point 5): kept open while idle with NOOPs, reopened
// in the background when the server drops it, with back-off while the server is down, and gone
// at close(). Against real smtp-server sinks; every wait is bounded.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { SmtpPool, type SmtpPoolOptions } from '../../packages/outbox/src/transports/smtp-pool.ts'
import { startSmtpSink, type SinkOptions, type SmtpSink } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'

const TIMEOUT = { timeout: 20_000 }
const envelope = (...to: string[]) => ({ from: 'noreply@ragtime.test', to })
const message = (n: number) => `From: noreply@ragtime.test\r\nTo: user${n}@example.test\r\nSubject: ${n}\r\n\r\nhello ${n}\r\n`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type PoolOptions = Partial<Omit<SmtpPoolOptions, 'connection'>>

function pool(port: number, options: PoolOptions = {}): SmtpPool {
  const p = new SmtpPool({
    connection: { host: '127.0.0.1', port, ignoreTLS: true, connectionTimeout: 5_000, greetingTimeout: 5_000 },
    auth: undefined,
    maxConnections: 1,
    maxMessages: 1_000,
    keepAliveMs: 100,
    ...options,
  })
  after(() => p.close())
  return p
}

async function sink(options: SinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(options)
  after(() => s.close())
  return s
}

/** Resolves once the pool's warm connection is open at the sink (and the sink saw it greet). */
const warm = (s: SmtpSink, opened: number) =>
  until(() => s.connections.opened === opened && s.connections.current === 1, `${opened} connection(s) opened, 1 open`, 5_000)

async function listening(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  return typeof address === 'object' && address ? address.port : 0
}

describe('SMTP pool: the warm connection', () => {
  test('after a quiet spell longer than the keep-alive, a send goes over the connection already open', TIMEOUT, async (t) => {
    const s = await sink()
    const p = pool(s.port)
    await warm(s, 1) // opened when the pool was made, before any mail
    await sleep(450) // four keep-alive intervals with nothing to send

    assert.ok((s.commands.NOOP ?? 0) >= 2, `NOOPs while idle: ${s.commands.NOOP ?? 0}`)
    const started = performance.now()
    const info = await p.send(envelope('a@example.test'), message(1))
    t.diagnostic(`send over the warm connection: ${(performance.now() - started).toFixed(1)} ms`)
    assert.match(info.response, /^250 /)
    assert.equal(s.received.length, 1)
    assert.equal(s.connections.opened, 1, 'no connection opened for the send')
  })

  test('NOOPs keep the connection open past the server’s own idle timeout', TIMEOUT, async () => {
    const s = await sink({ idleTimeoutMs: 300 })
    const p = pool(s.port, { noopsPerConnection: 100 })
    await warm(s, 1)
    await sleep(1_000) // more than three of the server's idle timeouts

    assert.equal(s.connections.opened, 1, 'the server never closed it')
    assert.equal(s.connections.current, 1)
    assert.ok((s.commands.NOOP ?? 0) >= 5, `NOOPs: ${s.commands.NOOP ?? 0}`)
    await p.send(envelope('a@example.test'), message(1))
    assert.equal(s.connections.opened, 1)
  })

  test('a connection says QUIT after its share of NOOPs and a fresh one takes its place', TIMEOUT, async () => {
    const s = await sink()
    const p = pool(s.port, { noopsPerConnection: 2 })
    await warm(s, 1)
    await warm(s, 2)
    assert.equal(s.commands.NOOP, 2, 'two NOOPs on the first connection, none yet on the second')
    assert.equal(s.commands.QUIT, 1)
    assert.equal(s.connections.max, 1, 'never more than maxConnections, counting the one saying QUIT')
    await p.send(envelope('a@example.test'), message(1))
    assert.equal(s.connections.opened, 2)
  })

  test('a connection the server drops while idle is reopened in the background, before the next send', TIMEOUT, async () => {
    const s = await sink()
    const p = pool(s.port, { keepAliveMs: 5_000 })
    await p.send(envelope('a@example.test'), message(1))
    assert.equal(s.connections.opened, 1)
    s.dropConnections()
    await warm(s, 2) // with no mail waiting

    await p.send(envelope('b@example.test'), message(2))
    assert.equal(s.received.length, 2)
    assert.equal(s.connections.opened, 2, 'the send used the reopened connection')
  })

  test('the warm connection still says QUIT after maxMessages; its successor opens before it is needed', TIMEOUT, async () => {
    const s = await sink()
    const p = pool(s.port, { maxMessages: 2, keepAliveMs: 5_000 })
    await p.send(envelope('a@example.test'), message(1))
    await p.send(envelope('b@example.test'), message(2))
    await warm(s, 2)
    assert.equal(s.commands.QUIT, 1)

    await p.send(envelope('c@example.test'), message(3))
    assert.equal(s.connections.opened, 2)
    assert.equal(s.connections.max, 1)
  })

  test('after a burst, the extra idle connections say QUIT and one stays warm', TIMEOUT, async () => {
    const s = await sink()
    const p = pool(s.port, { maxConnections: 3 })
    await Promise.all(Array.from({ length: 9 }, (_, n) => p.send(envelope(`u${n}@example.test`), message(n))))
    assert.equal(s.connections.opened, 3)
    await until(() => s.connections.current === 1, 'one connection left open', 5_000)
    assert.equal(s.commands.QUIT, 2)

    await sleep(250)
    assert.equal(s.connections.current, 1, 'the last one is kept')
    await p.send(envelope('late@example.test'), message(10))
    assert.equal(s.connections.opened, 3)
  })

  test('a relay that is down is retried with back-off, not hammered; once back, the pool is warm again without a send', TIMEOUT, async (t) => {
    // Down: accepts TCP and hangs up before the greeting, so each attempt can be counted.
    let attempts = 0
    const down = createServer((socket) => {
      attempts++
      socket.destroy()
    })
    const port = await listening(down)
    const p = pool(port, { reopenBackoff: { initialMs: 100, maxMs: 400 } })
    await sleep(1_500)
    t.diagnostic(`connection attempts in 1.5 s: ${attempts}`)
    // With no back-off this would be hundreds; 100 ms doubling to 400 ms, jittered down to half,
    // allows at most 10 in 1.5 s, and needs at least 4.
    assert.ok(attempts >= 3 && attempts <= 10, `connection attempts in 1.5 s: ${attempts}`)
    await new Promise((resolve) => down.close(resolve))

    const s = await sink({ port })
    await warm(s, 1)
    await p.send(envelope('a@example.test'), message(1))
    assert.equal(s.connections.opened, 1, 'the send used the connection reopened in the background')
  })

  test('a server that refuses the login is not retried in the background, only when mail is sent', TIMEOUT, async () => {
    let logins = 0
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      closeTimeout: 500,
      onAuth(_auth, _session, callback) {
        logins++
        callback(new Error('Invalid username or password'))
      },
    })
    server.on('error', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const address = server.server.address()
    const port = typeof address === 'object' && address ? address.port : 0

    const p = pool(port, { auth: { user: 'ragtime', pass: 'wrong' }, reopenBackoff: { initialMs: 20, maxMs: 50 } })
    await until(() => logins === 1, 'the warm connection to try its login', 5_000)
    await sleep(500)
    assert.equal(logins, 1, 'a wrong password is not repeated in the background')
    await assert.rejects(p.send(envelope('a@example.test'), message(1)), { code: 'EAUTH' })
    assert.equal(logins, 2)
  })

  test('close() leaves no timer or socket behind: a process that used the pool exits by itself', TIMEOUT, async () => {
    const s = await sink()
    const down = createServer((socket) => socket.destroy())
    const downPort = await listening(down)
    after(() => new Promise((resolve) => down.close(resolve)))
    // One pool warm and NOOPing, one waiting out a back-off, both closed: then nothing may keep
    // the process alive (no process.exit here).
    const script = `
      import { SmtpPool } from './packages/outbox/src/transports/smtp-pool.ts'
      const make = (port) => new SmtpPool({
        connection: { host: '127.0.0.1', port, ignoreTLS: true }, auth: undefined,
        maxConnections: 2, maxMessages: 1000, keepAliveMs: 50, reopenBackoff: { initialMs: 100, maxMs: 100 },
      })
      const live = make(${s.port})
      const dead = make(${downPort})
      await live.send({ from: 'noreply@ragtime.test', to: ['a@example.test'] }, 'Subject: x\\r\\n\\r\\nx\\r\\n')
      await new Promise((resolve) => setTimeout(resolve, 300))
      live.close()
      dead.close()
      console.log('closed')
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let closedAt = 0
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('closed')) closedAt = performance.now()
    })
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error('the process did not exit within 15 s of starting'))
      }, 15_000)
      child.on('exit', (exitCode) => {
        clearTimeout(timer)
        resolve(exitCode)
      })
    })
    assert.equal(code, 0)
    assert.ok(closedAt > 0, 'the script ran to its end')
    const lingered = performance.now() - closedAt
    // Its timers are 50-100 ms; a socket or idle timer left behind would hold it for many seconds.
    assert.ok(lingered < 5_000, `exited ${lingered.toFixed(0)} ms after close()`)
    assert.equal(s.received.length, 1)
    assert.ok((s.commands.NOOP ?? 0) >= 2, 'it had been NOOPing')
  })
})

/** A TCP relay in front of `port` that keeps what the client writes, one entry per chunk read. */
async function tap(port: number): Promise<{ port: number; chunks: string[] }> {
  const chunks: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk.toString('latin1'))
      upstream.write(chunk)
    })
    upstream.pipe(client)
  })
  const tapPort = await listening(server)
  after(async () => {
    const closing = new Promise((resolve) => server.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closing
  })
  return { port: tapPort, chunks }
}

describe('SMTP pool: pipelining', () => {
  test('MAIL FROM, every RCPT TO and DATA leave in one write when the server offers PIPELINING', TIMEOUT, async () => {
    const s = await sink()
    const relay = await tap(s.port)
    const p = pool(relay.port, { keepAliveMs: 0 })
    await p.send(envelope('a@example.test', 'b@example.test'), message(1))
    assert.deepEqual(s.received[0]?.envelope.to, ['a@example.test', 'b@example.test'])
    const batch = relay.chunks.find((chunk) => chunk.startsWith('MAIL FROM:'))
    assert.equal(batch, 'MAIL FROM:<noreply@ragtime.test>\r\nRCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n')
  })

  test('without PIPELINING each envelope command waits for its reply', TIMEOUT, async () => {
    const s = await sink({ noPipelining: true })
    const relay = await tap(s.port)
    const p = pool(relay.port, { keepAliveMs: 0 })
    await p.send(envelope('a@example.test', 'b@example.test'), message(1))
    assert.equal(s.received.length, 1)
    assert.equal(relay.chunks.find((chunk) => chunk.startsWith('MAIL FROM:')), 'MAIL FROM:<noreply@ragtime.test>\r\n')
  })
})
