// The web app for the sign-up latency scenario, in its own process: Ragtime's app and worker as
// `ragtime serve` runs them, with one switch. Mode `outbox` is Ragtime; mode `inline` holds each
// sign-up's answer until its confirmation email is accepted by the SMTP server, which is what
// the lesson's app did before it moved sending to a thread. Both modes run the same code
// otherwise, so the comparison is like with like.
// Arguments: mode, SMTP port, HTTP port, SQLite file. Prints "ready" once listening.
import Fastify from 'fastify'
import pino from 'pino'
import { loadConfig } from '../../src/config/index.ts'
import { migrateToLatest, openDatabase } from '../../src/db/index.ts'
import { workerFromConfig } from '../../src/mail/index.ts'
import { ragtimeApp } from '../../src/web/app.ts'
import { appDeps } from '../../src/web/deps.ts'

const [mode, smtpPort, httpPort, file] = process.argv.slice(2) as [string, string, string, string]
const config = loadConfig({
  DATABASE_URL: `sqlite:${file}`,
  MAIL_SERVER: '127.0.0.1',
  MAIL_PORT: smtpPort,
  BASE_URL: `http://127.0.0.1:${httpPort}`,
  SECRET_KEY: 'bench-secret-key-bench-secret-key-0123456789',
  RAGTIME_RATE_LIMITS: 'off',
  // Enough connections that sending inline never waits for one (20 clients at a time).
  RAGTIME_MAIL_CONCURRENCY: '25',
})
const logger = pino({ level: 'warn' })
const db = openDatabase(config.database)
await migrateToLatest(db)
const deps = appDeps({ ...config, secretKey: config.secretKey ?? '' }, db)
const worker = workerFromConfig(config, deps.outbox, logger)
const app = Fastify()
if (mode === 'inline') {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url !== '/auth/register' || reply.statusCode !== 202) return payload
    const email = (request.body as { email: string }).email
    const row = await db.kysely
      .selectFrom('mail_outbox')
      .select('id')
      .where('recipient', '=', email)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow()
    await deps.outbox.waitFor(row.id, 'sent', { timeoutMs: 60_000 })
    return payload
  })
}
await app.register(ragtimeApp, deps)
worker.start()
await app.listen({ host: '127.0.0.1', port: Number(httpPort) })
process.stdout.write('ready\n')
process.on('SIGTERM', async () => {
  await app.close()
  await worker.stop({ graceMs: 0 })
  await db.close()
  process.exit(0)
})
