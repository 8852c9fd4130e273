// examples/node-http: the package's example app (plain node:http, its own schema and template),
// run as a user would run it, against a real SMTP server.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { after, test } from 'node:test'
import { simpleParser } from 'mailparser'
import { tempDir } from '../helpers/env.ts'
import { ROOT } from '../helpers/root.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'

test('the node:http example signs a member up with a welcome email, and refuses bad input without sending', { timeout: 60_000 }, async () => {
  const sink = await startSmtpSink()
  after(() => sink.close())
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/node-http/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', DATABASE_PATH: path.join(tempDir(), 'example.sqlite'), SMTP_PORT: String(sink.port), PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  after(() => void child.kill('SIGKILL'))
  let output = ''
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`the example exited (${code}) before listening: ${output}`)))
  })
  const join = (email: string) => fetch(`${base}/members`, { method: 'POST', body: new URLSearchParams({ email }) })

  const joined = await join('ann@example.test')
  assert.equal(joined.status, 201)
  assert.deepEqual(await joined.json(), { id: 1 })
  assert.equal((await join('ann@example.test')).status, 409, 'a second sign-up is refused')
  const bad = await join('ann\r\nBcc: everyone@example.test')
  assert.equal(bad.status, 400)
  assert.deepEqual(await bad.json(), { error: 'bad_address' })
  assert.equal((await fetch(`${base}/elsewhere`)).status, 404)
  const large = await fetch(`${base}/members`, { method: 'POST', body: new URLSearchParams({ email: `${'a'.repeat(2_000)}@example.test` }) })
  assert.equal(large.status, 413)

  await sink.waitForAccepted(1, 15_000)
  const mail = await simpleParser(sink.received[0]!.raw)
  assert.equal(mail.subject, '[Example] Welcome aboard')
  assert.deepEqual(sink.received[0]!.envelope.to, ['ann@example.test'])
  assert.match(mail.text ?? '', /Welcome, ann@example\.test!/)

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, 'stops cleanly on SIGTERM')
  assert.equal(sink.received.length, 1, 'only the member who joined got mail')
})
