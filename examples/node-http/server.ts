// A sign-up back end on plain node:http that uses @ragtime/outbox: the member's row and its
// welcome email commit together, or neither does; a worker in this process delivers the email.
import { createServer, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createOutbox, createRenderer, DeliveryWorker, MailInputError, type OutboxTables, smtpTransport, transaction } from '@ragtime/outbox'
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

const outbox = createOutbox<Templates>({
  db,
  renderer: createRenderer({
    templatesDir: fileURLToPath(new URL('templates', import.meta.url)),
    subjectPrefix: '[Example] ',
    sender: 'Example <noreply@example.com>',
  }),
})
await outbox.migrate()
const worker = new DeliveryWorker({ outbox, transport: smtpTransport({ host: '127.0.0.1', port: Number(process.env.SMTP_PORT ?? 1025) }) })
worker.start()

const reply = (res: ServerResponse, status: number, body: object) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/members') return reply(res, 404, { error: 'not_found' })
  let body = ''
  for await (const chunk of req) if ((body += chunk).length > 1_000) return reply(res, 413, { error: 'too_large' })
  const email = new URLSearchParams(body).get('email') ?? ''
  try {
    const id = await transaction(db, async (trx) => {
      const member = await trx.insertInto('members').values({ email, created_at: Date.now() }).returning('id').executeTakeFirstOrThrow()
      await outbox.enqueue(trx, { template: 'welcome', to: email, subject: 'Welcome aboard', context: { email } })
      return member.id
    })
    reply(res, 201, { id })
  } catch (err) {
    // Rolled back: no member, no email.
    if (err instanceof MailInputError) return reply(res, 400, { error: 'bad_address' })
    if (/UNIQUE/.test(String(err))) return reply(res, 409, { error: 'already_a_member' })
    reply(res, 500, { error: 'internal' })
  }
})
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address()
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}`)
})
process.once('SIGTERM', async () => {
  server.close()
  await worker.stop()
  await db.destroy()
})
