import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Verdict } from '../helpers/smtp-sink.ts'
import { until } from '../helpers/wait.ts'
import { webHarness } from '../helpers/web.ts'

describe('a slow SMTP server never slows a sign-up', () => {
  test('50 sign-ups at once all answer while the server sits on the mail; all 50 arrive afterwards', { timeout: 90_000 }, async () => {
    // Every message takes 2 s at the server, and none is answered before the test lets go.
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const h = await webHarness({
      env: { RAGTIME_MAIL_CONCURRENCY: '25' },
      sink: {
        verdict: async (): Promise<Verdict> => {
          await released
          await new Promise((resolve) => setTimeout(resolve, 2_000))
          return 'accept'
        },
      },
    })
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.client().json('POST', '/auth/register', { email: `user${i}@example.test`, username: `user${i}`, password: 'password one' }),
      ),
    )
    assert.ok(answers.every((a) => a.statusCode === 202))
    // Every answer is in, and the SMTP server has accepted nothing: nobody waited for it.
    const { counts } = await h.deps.outbox.status()
    assert.equal(counts.sent, 0)
    assert.equal(counts.queued + counts.sending, 50)
    assert.equal(h.sink.received.length, 0)

    release()
    await h.sink.waitForAccepted(50, 60_000)
    const recipients = new Set(h.sink.received.map((m) => m.envelope.to[0]))
    assert.equal(recipients.size, 50)
    await until(async () => (await h.deps.outbox.status()).counts.sent === 50, 'all 50 recorded as sent')
  })
})
