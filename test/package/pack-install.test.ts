// @ragtime/outbox as a stranger gets it: `npm pack`, installed from the tarball into a fresh
// project outside this repository (no workspace link), used by a script of that project's own.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { simpleParser } from 'mailparser'
import { tempDir, testDatabaseUrl } from '../helpers/env.ts'
import { ROOT } from '../helpers/root.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'

const run = promisify(execFile)
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: 120_000 })
const versionOf = (name: string) => (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

/** The project's script: a table of its own, one order committed with its email, one rolled back. */
const SCRIPT = `
import { createOutbox, createRenderer, DeliveryWorker, smtpTransport, transaction } from '@ragtime/outbox'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'

const url = process.env.DATABASE_URL
const db = url.startsWith('sqlite:')
  ? new Kysely({ dialect: new SqliteDialect({ database: new (await import('better-sqlite3')).default(url.slice('sqlite:'.length)) }) })
  : new Kysely({ dialect: new PostgresDialect({ pool: new (await import('pg')).default.Pool({ connectionString: url, max: 2 }) }) })
await db.schema.createTable('orders').addColumn('item', 'text', (c) => c.notNull()).execute()
const outbox = createOutbox({
  db,
  tablePrefix: 'shop_mail_',
  renderer: createRenderer({ templatesDir: new URL('templates', import.meta.url).pathname, subjectPrefix: '[Shop] ', sender: 'Shop <noreply@shop.test>' }),
})
await outbox.migrate()
const idTypes = []
const order = (item) => transaction(db, async (trx) => {
  await trx.insertInto('orders').values({ item }).execute()
  const id = await outbox.enqueue(trx, { template: 'receipt', to: item + '@example.test', subject: 'Your ' + item, context: { item } })
  idTypes.push(typeof id)
  if (item === 'rolled-back') throw new Error('payment declined')
})
await order('kept')
await order('rolled-back').catch(() => {})
const worker = new DeliveryWorker({ outbox, transport: smtpTransport({ host: '127.0.0.1', port: Number(process.env.SMTP_PORT) }) })
const summary = await worker.runOnce()
await worker.stop()
const orders = await db.selectFrom('orders').select('item').execute()
const status = await outbox.status()
const tables = url.startsWith('sqlite:')
  ? await db.selectFrom('sqlite_master').where('type', '=', 'table').where('name', 'not like', 'sqlite_%').select('name').execute()
  : await db.selectFrom('information_schema.tables').where('table_schema', '=', sql\`current_schema()\`).select('table_name as name').execute()
await db.destroy()
const lite = await import('@ragtime/outbox/lite')
const { MAIL_STATES } = await import('@ragtime/outbox/states')
const entries = typeof lite.migrate === 'function' && lite.MAIL_STATES === MAIL_STATES && MAIL_STATES.includes('sent')
console.log(JSON.stringify({ summary, orders, counts: status.counts, tables: tables.map((t) => t.name).sort(), entries, idTypes }))
`

test('npm pack, installed into a fresh project: exactly the committed message reaches a real SMTP server', { timeout: 180_000 }, async () => {
  const dir = tempDir()
  const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], path.join(ROOT, 'packages/outbox'))
  const [tarball] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[]
  assert.ok(tarball)
  const files = tarball.files.map((file) => file.path)
  for (const wanted of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'src/index.ts']) {
    assert.ok(files.includes(wanted), `the tarball has ${wanted}`)
  }
  // The build, the sources its maps point at, and its documents: no build info, no tests.
  assert.deepEqual(files.filter((file) => !/^(dist\/.*\.(js|d\.ts)(\.map)?|src\/.*\.ts|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(file)), [])

  const project = path.join(dir, 'shop')
  await run('mkdir', ['-p', path.join(project, 'templates')])
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }))
  writeFileSync(path.join(project, 'templates/receipt.txt'), 'Thank you for your <%= it.item %>.\n')
  writeFileSync(path.join(project, 'templates/receipt.html'), '<p>Thank you for your <%= it.item %>.</p>\n')
  writeFileSync(path.join(project, 'order.mjs'), SCRIPT)
  await npm(['install', '--prefer-offline', path.join(dir, tarball.filename), `kysely@${versionOf('kysely')}`, `pg@${versionOf('pg')}`], project)
  // better-sqlite3 linked from this checkout, where it is compiled already: a build from source
  // takes minutes, and `npm install <folder>` walks this whole checkout (a minute of CPU).
  symlinkSync(path.join(ROOT, 'node_modules/better-sqlite3'), path.join(project, 'node_modules/better-sqlite3'))
  assert.ok(lstatSync(path.join(project, 'node_modules/@ragtime/outbox')).isDirectory(), 'installed from the tarball, not linked')

  const sink = await startSmtpSink()
  try {
    const { stdout } = await run(process.execPath, ['order.mjs'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: testDatabaseUrl(), SMTP_PORT: String(sink.port) },
      timeout: 60_000,
    })
    const result = JSON.parse(stdout) as {
      summary: { sent: number }
      orders: { item: string }[]
      counts: Record<string, number>
      tables: string[]
      entries: boolean
      idTypes: string[]
    }
    assert.equal(result.entries, true, 'the /lite and /states entry points resolve from the tarball, sharing its modules')
    assert.deepEqual(
      result.tables.filter((table) => table !== 'orders'),
      ['body', 'feedback', 'failures', 'audit', 'flow_buckets', 'flow_slots', 'migration', 'outbox', 'suppression'].map((t) => `shop_mail_${t}`).sort(),
      'its own tables, under its prefix, beside the app’s one',
    )
    assert.deepEqual(result.orders, [{ item: 'kept' }], 'the rolled-back order is gone')
    // A plain pg Pool hands bigint ids over as strings; enqueue's id is a number all the same.
    assert.deepEqual(result.idTypes, ['number', 'number'])
    assert.equal(result.summary.sent, 1)
    assert.equal(result.counts.sent, 1)
    assert.equal(Object.values(result.counts).reduce((a, b) => a + b, 0), 1, 'the rolled-back email never existed')
    assert.equal(sink.received.length, 1)
    const mail = await simpleParser(sink.received[0]!.raw)
    assert.equal(mail.subject, '[Shop] Your kept')
    assert.deepEqual(sink.received[0]!.envelope.to, ['kept@example.test'])
    assert.match(mail.text ?? '', /Thank you for your kept\./)
  } finally {
    await sink.close()
  }
})
