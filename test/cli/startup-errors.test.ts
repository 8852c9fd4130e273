import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import { runRagtime, type Spawned, spawnRagtime } from '../helpers/cli.ts'
import { testEnv } from '../helpers/env.ts'
import { freePort, until } from '../helpers/wait.ts'

const SECRET_KEY = 'a-production-secret-of-32-characters-or-more'

/** Something else listening on `host`, on a port of its own; closed after the test. */
async function occupy(t: TestContext, host = '127.0.0.1', port = 0): Promise<Server> {
  const server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return server
}

function portOf(server: Server): number {
  const address = server.address()
  assert.ok(address && typeof address === 'object')
  return address.port
}

/** Waits until the process has exited (its code), or has started after all ('running'). */
async function outcome(ragtime: Spawned, started: RegExp): Promise<number | null | 'running'> {
  let exit: number | null | undefined
  void ragtime.exited.then((e) => (exit = e.code))
  await until(() => exit !== undefined || started.test(ragtime.stderr()), 'ragtime to exit or start', 30_000)
  if (exit === undefined) return 'running'
  // 'exit' may come before the last of stderr.
  const stderr = ragtime.child.stderr
  if (stderr && !stderr.readableEnded) await once(stderr, 'end')
  return exit
}

const problems = (stderr: string) => [...stderr.matchAll(/^ {2}- (\w+): /gm)].map((m) => m[1])

// The tests in each group start processes of their own and mostly wait for them: they run side by side.
describe('production start-up: every problem in one message', { concurrency: true }, () => {
  test('serve without SECRET_KEY, BASE_URL and MAIL_SERVER lists all three; each command asks only for what it uses', async () => {
    const env = testEnv({ NODE_ENV: 'production' })
    const serve = await runRagtime(['serve'], env)
    assert.equal(serve.code, 1, serve.stderr)
    assert.match(serve.stderr, /^ragtime: Invalid configuration:\n/m)
    assert.deepEqual(problems(serve.stderr), ['SECRET_KEY', 'BASE_URL', 'MAIL_SERVER'])
    assert.match(serve.stderr, /- BASE_URL: is required when NODE_ENV=production: the absolute URL people reach the app at/)
    assert.match(serve.stderr, /- MAIL_SERVER: is required when NODE_ENV=production to deliver mail/)
    assert.doesNotMatch(serve.stderr, /\n\s+at /, 'no stack trace')
    // With a bad value too: still one message.
    assert.deepEqual(problems((await runRagtime(['serve'], { ...env, MAIL_PORT: 'x' })).stderr), ['MAIL_PORT', 'SECRET_KEY', 'BASE_URL', 'MAIL_SERVER'])

    assert.deepEqual(problems((await runRagtime(['serve', '--no-worker'], env)).stderr), ['SECRET_KEY', 'BASE_URL'])
    assert.deepEqual(problems((await runRagtime(['worker'], env)).stderr), ['SECRET_KEY', 'MAIL_SERVER'])
    assert.deepEqual(problems((await runRagtime(['mail', 'send-test', 'ann@example.test'], { ...env, SECRET_KEY })).stderr), ['BASE_URL'])
    const status = await runRagtime(['mail', 'status'], { ...env, SECRET_KEY })
    assert.equal(status.code, 0, `mail status needs neither BASE_URL nor MAIL_SERVER: ${status.stderr}`)
  })

  test('NODE_ENV=prod is refused, naming the variable, not run as development', { timeout: 60_000 }, async () => {
    const env = testEnv({ NODE_ENV: 'prod', HOST: '127.0.0.1', PORT: String(await freePort()), RAGTIME_DEV_SMTP_PORT: String(await freePort()) })
    const migrate = await runRagtime(['migrate'], env)
    assert.equal(migrate.code, 1, migrate.stderr)
    assert.match(migrate.stderr, /^ {2}- NODE_ENV: must be production, development or test \(got "prod"\)$/m)
    const serve = spawnRagtime(['serve'], env)
    assert.equal(await outcome(serve, /Ragtime is running/), 1, serve.stderr())
    assert.match(serve.stderr(), /NODE_ENV: must be production, development or test/)
  })
})

describe('a port in use: which port, and what changes it', { concurrency: true }, () => {
  test('the web port (PORT), taken on 127.0.0.1', { timeout: 60_000 }, async (t) => {
    const port = portOf(await occupy(t))
    const serve = spawnRagtime(['serve'], testEnv({ PORT: String(port), RAGTIME_DEV_SMTP_PORT: String(await freePort()) }))
    assert.equal(await outcome(serve, /Ragtime is running/), 1, serve.stderr())
    assert.match(serve.stderr(), new RegExp(`^ragtime: port ${port} \\(the web server's\\) is in use on 127\\.0\\.0\\.1: set PORT to a free one`, 'm'))
    assert.doesNotMatch(serve.stderr(), /EADDRINUSE/)
  })

  test('the web port (PORT), taken on ::1 only: localhost would reach the other program', { timeout: 60_000 }, async (t) => {
    const v6 = await occupy(t, '::1').catch(() => undefined)
    if (!v6) return t.skip('no IPv6 loopback here')
    const port = portOf(v6)
    const v4 = await occupy(t, '127.0.0.1', port).catch(() => undefined)
    if (!v4) return t.skip(`127.0.0.1:${port} is taken too`)
    await new Promise((resolve) => v4.close(resolve))
    const serve = spawnRagtime(['serve'], testEnv({ PORT: String(port), RAGTIME_DEV_SMTP_PORT: String(await freePort()) }))
    assert.equal(await outcome(serve, /Ragtime is running/), 1, serve.stderr())
    assert.match(serve.stderr(), new RegExp(`^ragtime: port ${port} \\(the web server's\\) is in use on ::1: set PORT to a free one`, 'm'))
  })

  test('worker --metrics-port', { timeout: 60_000 }, async (t) => {
    const port = portOf(await occupy(t))
    const worker = spawnRagtime(['worker', '--metrics-port', String(port)], testEnv({ HOST: '127.0.0.1' }))
    assert.equal(await outcome(worker, /mail worker started/), 1, worker.stderr())
    assert.match(worker.stderr(), new RegExp(`^ragtime: port ${port} \\(the worker's metrics port\\) is in use: give --metrics-port a free one$`, 'm'))
    assert.doesNotMatch(worker.stderr(), /EADDRINUSE/)
  })

  test('bounces --port names --port; serve names RAGTIME_BOUNCE_SMTP_PORT', { timeout: 60_000 }, async (t) => {
    const port = portOf(await occupy(t))
    const env = testEnv({ HOST: '127.0.0.1', RAGTIME_BOUNCE_ADDRESS: 'bounces@ragtime.test' })
    const bounces = await runRagtime(['bounces', '--port', String(port)], env)
    assert.equal(bounces.code, 1, bounces.stderr)
    assert.match(bounces.stderr, new RegExp(`^ragtime: port ${port} \\(the bounce receiver's\\) is in use: set --port to a free one$`, 'm'))
    const serve = spawnRagtime(
      ['serve'],
      { ...env, PORT: String(await freePort()), RAGTIME_DEV_SMTP_PORT: String(await freePort()), RAGTIME_BOUNCE_SMTP_PORT: String(port) },
    )
    assert.equal(await outcome(serve, /Ragtime is running/), 1, serve.stderr())
    assert.match(serve.stderr(), /is in use: set RAGTIME_BOUNCE_SMTP_PORT to a free one$/m)
  })
})
