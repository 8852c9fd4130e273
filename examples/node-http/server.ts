// A sign-up back end on plain node:http that uses @ragtime/outbox: the member's row and its
// welcome email commit together, or neither does; a worker in this process delivers the email.
import { createServer, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createOutbox, createRenderer, DeliveryWorker, normalizeAddress, type OutboxTables, smtpTransport, transaction } from '@ragtime/outbox'
import SqliteDatabase from 'better-sqlite3'
import { type Generated, Kysely, SqliteDialect } from 'kysely'

interface Database extends OutboxTables {
  members: { id: Generated<number>; email: string; created_at: number }
}
/** Each template's context: `welcome.txt` and `welcome.html` in templates/. */
interface Templates {
  welcome: { email: string }
}

const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(process.env.DATABASE_PATH ?? 'example.sqlite') }) })
await db.schema
  .createTable('members')
  .ifNotExists()
  .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
  .addColumn('email', 'text', (c) => c.notNull().unique())
  .addColumn('created_at', 'integer', (c) => c.notNull())
  .execute()

const templatesDir = fileURLToPath(new URL('templates', import.meta.url))
const renderer = createRenderer({ templatesDir, subjectPrefix: '[Example] ', sender: 'Example <noreply@example.com>' })
const outbox = createOutbox<Templates>({ db, renderer })
await outbox.migrate()
const worker = new DeliveryWorker({ outbox, transport: smtpTransport({ host: '127.0.0.1', port: Number(process.env.SMTP_PORT ?? 1025) }) })
worker.start()

const reply = (res: ServerResponse, status: number, body: object) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

// Each request sends an email to an address the caller chooses: a real app limits this route
// per client and per address (Ragtime's register route does), as it would any mail it sends.
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/members') return reply(res, 404, { error: 'not_found' })
  if (Number(req.headers['content-length'] ?? 0) > 1_000) {
    res.setHeader('connection', 'close')
    return reply(res, 413, { error: 'too_large' })
  }
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => (body += chunk.slice(0, 1_000 - body.length))) // at most 1 KB kept
  req.on('error', () => res.destroy())
  req.on('end', async () => {
    const address = normalizeAddress(new URLSearchParams(body).get('email'))
    if (!address.ok) return reply(res, 400, { error: 'bad_address' })
    try {
      const id = await transaction(db, async (trx) => {
        const member = await trx.insertInto('members').values({ email: address.address, created_at: Date.now() }).returning('id').executeTakeFirstOrThrow()
        await outbox.enqueue(trx, { template: 'welcome', to: address.address, subject: 'Welcome aboard', context: { email: address.address } })
        return member.id
      })
      reply(res, 201, { id })
    } catch (err) {
      // Rolled back: no member, no email.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return reply(res, 409, { error: 'already_a_member' })
      console.error(err)
      reply(res, 500, { error: 'internal' })
    }
  })
})
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address()
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}`)
})
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close(() => void worker.stop().then(() => db.destroy()).catch((err: unknown) => console.error(err)))
  })
}
