import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, test } from 'node:test'
import { dkimVerify } from 'mailauth/lib/dkim/verify.js'
import { transaction } from '../../src/db/index.ts'
import type { Email } from '../../src/mail/index.ts'
import { MAIL_SAMPLES } from '../../templates/mail/samples.ts'
import { harness } from '../helpers/outbox.ts'

const SELECTOR = 'rt2026'
const DOMAIN = 'mail.ragtime.test'

function rsaKey(bits = 2048) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  return { pem, record: `v=DKIM1; k=rsa; p=${p}` }
}

/** A resolver that knows one DNS record: the test's published key. */
function resolverFor(record: string) {
  return async (name: string, type: string) => {
    if (type === 'TXT' && name.toLowerCase() === `${SELECTOR}._domainkey.${DOMAIN}`) return [[record]]
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' })
  }
}

async function verify(raw: string, record: string) {
  const { results } = await dkimVerify(Buffer.from(raw), { resolver: resolverFor(record) })
  return results
}

describe('DKIM: every message is signed once, at enqueue, and stored signed', () => {
  const key = rsaKey()

  test('every template, as stored and as received, passes an independent verifier; a changed byte fails', async () => {
    const h = await harness({
      env: {
        RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
        RAGTIME_DKIM_SELECTOR: SELECTOR,
        RAGTIME_DKIM_PRIVATE_KEY: key.pem,
        RAGTIME_DKIM_DOMAIN: DOMAIN,
      },
    })
    const samples = Object.values(MAIL_SAMPLES) as Email[]
    const ids: number[] = []
    for (const sample of samples) ids.push(await transaction(h.db.kysely, (trx) => h.outbox.enqueue(trx, sample)))

    for (const [i, id] of ids.entries()) {
      const { raw } = await h.db.kysely.selectFrom('mail_body').select('raw').where('outbox_id', '=', id).executeTakeFirstOrThrow()
      assert.ok(raw.startsWith('DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;'), 'signed, relaxed/relaxed, rsa-sha256')
      assert.doesNotMatch(raw, /(?<!\r)\n|\r(?!\n)/, 'CRLF line ends only, in storage')
      const signedHeaders = /\bh=([^;]+);/.exec(raw.replace(/\r\n\s+/g, ' '))?.[1]?.toLowerCase().split(':') ?? []
      for (const name of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) {
        assert.ok(signedHeaders.includes(name), `${samples[i]?.template}: ${name} is signed`)
      }
      const [result] = await verify(raw, key.record)
      assert.equal(result?.status.result, 'pass', `${samples[i]?.template} as stored: ${result?.status.comment ?? ''}`)
      assert.equal(result?.signingDomain, DOMAIN)
    }

    h.worker.start()
    await h.sink.waitForAccepted(samples.length)
    assert.equal(h.sink.received.length, samples.length)
    for (const mail of h.sink.received) {
      const [result] = await verify(mail.raw, key.record)
      assert.equal(result?.status.result, 'pass', `as received: ${result?.status.comment ?? ''}`)
      // A changed byte in the body, or in a signed header, fails.
      const body = mail.raw.replace(/(\r\n\r\n[\s\S]*?)([a-z])/, (_, head: string, ch: string) => head + (ch === 'a' ? 'b' : 'a'))
      assert.notEqual(body, mail.raw)
      const [changedBody] = await verify(body, key.record)
      // mailauth answers a body-hash mismatch with neutral (RFC 6376 6.3 lets verifiers choose): not a pass.
      assert.notEqual(changedBody?.status.result, 'pass', 'a changed body byte')
      assert.match(changedBody?.status.comment ?? '', /body hash did not verify/)
      const subject = mail.raw.replace(/^Subject: ./m, 'Subject: ~')
      assert.notEqual(subject, mail.raw)
      assert.equal((await verify(subject, key.record))[0]?.status.result, 'fail', 'a changed subject')
    }
    // Another key published under the selector: nothing passes.
    assert.equal((await verify(h.sink.received[0]?.raw ?? '', rsaKey().record))[0]?.status.result, 'fail')
  })

  test('a key shorter than 2048 bits, or not RSA, or not a key, is refused at start-up with a reason', async () => {
    const { loadConfig } = await import('../../src/config/index.ts')
    const short = rsaKey(1024).pem
    assert.throws(() => loadConfig({ RAGTIME_DKIM_SELECTOR: SELECTOR, RAGTIME_DKIM_PRIVATE_KEY: short }), /at least 2048 bits/)
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    assert.throws(() => loadConfig({ RAGTIME_DKIM_SELECTOR: SELECTOR, RAGTIME_DKIM_PRIVATE_KEY: ed }), /must be an RSA key/)
    assert.throws(() => loadConfig({ RAGTIME_DKIM_SELECTOR: SELECTOR, RAGTIME_DKIM_PRIVATE_KEY: '/nonexistent/key.pem' }), /neither a PEM nor a readable file/)
    assert.throws(() => loadConfig({ RAGTIME_DKIM_SELECTOR: SELECTOR }), /RAGTIME_DKIM_PRIVATE_KEY: is needed/)
    const config = loadConfig({ RAGTIME_DKIM_SELECTOR: SELECTOR, RAGTIME_DKIM_PRIVATE_KEY: key.pem, BASE_URL: 'https://app.example.org' })
    assert.equal(config.dkim?.domain, 'app.example.org', 'the d= domain defaults to the sender’s')
  })
})

describe('what every message carries', () => {
  test('automatic-reply suppression headers, CRLF only, From and Message-ID at the sender’s domain, envelope = sender', async () => {
    // RAGTIME_MAIL_SENDER unset (empty), as users start with it.
    const h = await harness({ env: { BASE_URL: 'https://app.example.org', RAGTIME_ADMIN: 'ops@gmail.com', RAGTIME_MAIL_SENDER: '' } })
    await h.send('ann@example.test')
    h.worker.start()
    await h.sink.waitForAccepted(1)
    const [mail] = h.sink.received
    assert.ok(mail)
    assert.doesNotMatch(mail.raw, /(?<!\r)\n/, 'no bare LF')
    assert.match(mail.raw, /^Auto-Submitted: auto-generated\r$/m)
    assert.match(mail.raw, /^X-Auto-Response-Suppress: All\r$/m)
    assert.match(mail.raw, /^From: Ragtime <noreply@app\.example\.org>\r$/m, 'not the admin’s mailbox')
    assert.match(mail.raw, /^Message-ID: <[0-9a-f-]+@app\.example\.org>\r$/m)
    assert.equal(mail.envelope.from, 'noreply@app.example.org')
  })
})
