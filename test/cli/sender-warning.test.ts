import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { spawnRagtime } from '../helpers/cli.ts'
import { testEnv } from '../helpers/env.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'

async function workerLog(sender: string, nodeEnv = 'production'): Promise<string> {
  const sink = await startSmtpSink()
  const worker = spawnRagtime(
    ['worker'],
    testEnv({
      NODE_ENV: nodeEnv,
      SECRET_KEY: 'sender-warning-secret-key-0123456789abcdef',
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: String(sink.port),
      RAGTIME_MAIL_SENDER: sender,
      RAGTIME_LOG_LEVEL: 'info',
    }),
  )
  await until(() => /mail worker started/.test(worker.stderr()), 'the worker to start', 30_000)
  worker.child.kill('SIGTERM')
  await worker.exited
  await sink.close()
  return worker.stderr()
}

describe('production start-up warns about a sender at a mailbox provider', () => {
  test('one line for ops@gmail.com; none for an address at the app’s own domain, nor in development', async () => {
    const warned = (await workerLog('Ops <ops@gmail.com>')).split('\n').filter((line) => /mailbox provider/.test(line))
    assert.equal(warned.length, 1)
    assert.match(warned[0] ?? '', /the sender ops@gmail\.com is at gmail\.com.*set RAGTIME_MAIL_SENDER/)
    assert.doesNotMatch(await workerLog('Ragtime <noreply@ragtime.example.org>'), /mailbox provider/)
    assert.doesNotMatch(await workerLog('Ops <ops@gmail.com>', 'development'), /mailbox provider/)
  })
})
