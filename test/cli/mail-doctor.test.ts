import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import dns2 from 'dns2'
import { SMTPServer } from 'smtp-server'
import { runRagtime } from '../helpers/cli.ts'
import { tempDir } from '../helpers/env.ts'

// `ragtime mail doctor` run for real (a child process), against a real DNS server (dns2) and real
// SMTP servers (smtp-server), all on 127.0.0.1 and ephemeral ports.

const { Packet } = dns2

/** One name's records. TXT values longer than 255 characters are split into character-strings. */
interface ZoneEntry {
  TXT?: string[]
  MX?: { exchange: string; priority: number }[]
  A?: string[]
  AAAA?: string[]
}
type Zone = Record<string, ZoneEntry>

/** A DNS server answering from `zone` over UDP and TCP on the same 127.0.0.1 port; NXDOMAIN for other names. */
async function startDns(zone: Zone): Promise<number> {
  const handle: dns2.DnsHandler = (request, send) => {
    const response = Packet.createResponseFromRequest(request)
    const [question] = request.questions
    const entry = question ? zone[question.name.toLowerCase().replace(/\.$/, '')] : undefined
    if (!question || !entry) {
      response.header.rcode = 3 // NXDOMAIN
    } else {
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 }
      if (question.type === Packet.TYPE.TXT) {
        for (const txt of entry.TXT ?? []) response.answers.push({ ...base, type: Packet.TYPE.TXT, data: txt.match(/.{1,255}/g) ?? [''] } as dns2.Packet.Resource)
      } else if (question.type === Packet.TYPE.MX) {
        for (const mx of entry.MX ?? []) response.answers.push({ ...base, type: Packet.TYPE.MX, ...mx } as dns2.Packet.Resource)
      } else if (question.type === Packet.TYPE.A) {
        for (const address of entry.A ?? []) response.answers.push({ ...base, type: Packet.TYPE.A, address } as dns2.Packet.Resource)
      } else if (question.type === Packet.TYPE.AAAA) {
        for (const address of entry.AAAA ?? []) response.answers.push({ ...base, type: Packet.TYPE.AAAA, address } as dns2.Packet.Resource)
      }
    }
    void send(response)
  }
  // c-ares asks over UDP and retries over TCP (truncated answers) on the same port.
  for (let attempt = 0; ; attempt++) {
    const udp = dns2.createUDPServer(handle)
    await udp.listen(0, '127.0.0.1')
    const { port } = udp.address()
    const tcp = dns2.createTCPServer(handle)
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(port, '127.0.0.1', resolve)
      })
    } catch (err) {
      udp.close()
      if (attempt < 5) continue
      throw err
    }
    after(() => {
      udp.close()
      tcp.close()
    })
    return port
  }
}

/** A port on 127.0.0.1 where nothing answers DNS (UDP answers "port unreachable"). */
async function deadPort(): Promise<number> {
  const socket = createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const { port } = socket.address()
  socket.close()
  return port
}

/** An SMTP server on 127.0.0.1: STARTTLS (or TLS from the start) with `tls` (or smtp-server's own self-signed certificate), or none. */
async function startSmtp(options: { tls?: { key: string; cert: string }; starttls?: boolean; secure?: boolean } = {}): Promise<number> {
  const server = new SMTPServer({
    secure: options.secure ?? false,
    authOptional: true,
    disabledCommands: options.starttls === false ? ['STARTTLS'] : [],
    disableReverseLookup: true,
    logger: false,
    ...(options.tls ?? {}),
    onData(stream, _session, callback) {
      stream.resume()
      stream.on('end', () => callback())
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.server.address() as AddressInfo).port
}

interface Report {
  ok: boolean
  checks: { name: string; status: string; message: string; details?: Record<string, unknown> }[]
}

function rsaKey(): { privatePem: string; publicBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  }
}

describe('ragtime mail doctor', () => {
  const signing = rsaKey()
  const other = rsaKey()
  // Made here, not in before(): tempDir() removes it after the current test or hook.
  const dir = tempDir()
  let caFile = ''
  let localhostTls = { key: '', cert: '' }

  before(() => {
    // A throwaway CA (trusted by the child through NODE_EXTRA_CA_CERTS) and a certificate for localhost.
    const file = (name: string) => path.join(dir, name)
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Ragtime test CA')
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('host.key'), '-out', file('host.csr'), '-subj', '/CN=localhost')
    writeFileSync(file('host.ext'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n')
    openssl('x509', '-req', '-in', file('host.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('host.pem'), '-days', '2', '-extfile', file('host.ext'))
    caFile = file('ca.pem')
    localhostTls = { key: readFileSync(file('host.key'), 'utf8'), cert: readFileSync(file('host.pem'), 'utf8') }
  })

  /** Everything right: SPF through an include, the signing key published, DMARC p=reject, MX for bounces. */
  function goodZone(): Zone {
    return {
      'bounce.ragtime.test': { TXT: ['v=spf1 include:_spf.ragtime.test -all'], MX: [{ exchange: 'mx.ragtime.test', priority: 10 }] },
      '_spf.ragtime.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 ip6:::1 -all'] },
      'rt1._domainkey.ragtime.test': { TXT: [`v=DKIM1; k=rsa; p=${signing.publicBase64}`] },
      '_dmarc.ragtime.test': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@ragtime.test'] },
      'ragtime.test': { TXT: ['google-site-verification=abc'], MX: [{ exchange: 'mx.ragtime.test', priority: 10 }] },
      localhost: { A: ['127.0.0.1'] },
    }
  }

  function env(dnsPort: number, smtpPort: number, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      DATABASE_URL: `sqlite:${path.join(dir, 'unused.sqlite')}`,
      RAGTIME_LOG_LEVEL: 'silent',
      RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
      RAGTIME_DKIM_SELECTOR: 'rt1',
      RAGTIME_DKIM_PRIVATE_KEY: signing.privatePem,
      RAGTIME_BOUNCE_ADDRESS: 'bounces@bounce.ragtime.test',
      MAIL_SERVER: 'localhost',
      MAIL_PORT: String(smtpPort),
      MAIL_USE_TLS: '1',
      RAGTIME_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      NODE_EXTRA_CA_CERTS: caFile,
      ...overrides,
    }
  }

  async function doctor(environment: Record<string, string>): Promise<{ code: number; stdout: string; report: Report }> {
    const run = await runRagtime(['mail', 'doctor', '--json'], environment)
    let report: Report
    try {
      report = JSON.parse(run.stdout) as Report
    } catch {
      throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
    }
    return { code: run.code, stdout: run.stdout, report }
  }

  const status = (report: Report, name: string) => report.checks.find((check) => check.name === name)?.status
  const message = (report: Report, name: string) => report.checks.find((check) => check.name === name)?.message ?? ''

  test('all good: every check ok, exit 0; the text report and the --json shape', async () => {
    const environment = env(await startDns(goodZone()), await startSmtp({ tls: localhostTls }))
    const { code, report } = await doctor(environment)
    assert.equal(code, 0, JSON.stringify(report, null, 2))
    assert.deepEqual(Object.keys(report).sort(), ['checks', 'ok'])
    assert.equal(report.ok, true)
    assert.deepEqual(
      report.checks.map((check) => [check.name, check.status]),
      ['sender', 'spf', 'dkim', 'dmarc', 'alignment', 'relay', 'bounce'].map((name) => [name, 'ok']),
    )
    for (const check of report.checks) {
      assert.equal(typeof check.message, 'string')
      assert.ok(check.message.length > 0)
    }
    assert.match(message(report, 'spf'), /ends in -all/)
    assert.match(message(report, 'spf'), /relay localhost \(127\.0\.0\.1\) passes: include:_spf\.ragtime\.test .*ip4:127\.0\.0\.0\/8/)
    assert.match(message(report, 'dkim'), /rt1\._domainkey\.ragtime\.test publishes the public half/)
    assert.match(message(report, 'dmarc'), /p=reject/)
    assert.match(message(report, 'relay'), /offers STARTTLS .* certificate is valid for localhost/)
    assert.match(message(report, 'bounce'), /MX 10 mx\.ragtime\.test/)

    const text = await runRagtime(['mail', 'doctor'], environment)
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /^OK {6}sender {4}Sender noreply@ragtime\.test/m)
    assert.match(text.stdout, /^OK: every check passed$/m)
  })

  test('-h and --help print the usage and exit 0', async () => {
    for (const flag of ['-h', '--help']) {
      const run = await runRagtime(['mail', 'doctor', flag], {})
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^usage: ragtime mail doctor \[--json\]/)
      assert.match(run.stdout, /RAGTIME_DNS_SERVERS/)
    }
  })

  test('a published DKIM key that is not the signing key fails, and says what to publish', async () => {
    const zone = goodZone()
    zone['rt1._domainkey.ragtime.test'] = { TXT: [`v=DKIM1; k=rsa; p=${other.publicBase64}`] }
    const { code, report } = await doctor(env(await startDns(zone), await startSmtp({ tls: localhostTls })))
    assert.equal(code, 1)
    assert.equal(report.ok, false)
    assert.equal(status(report, 'dkim'), 'fail')
    assert.match(message(report, 'dkim'), /not the public half of RAGTIME_DKIM_PRIVATE_KEY/)
    assert.ok(message(report, 'dkim').includes(`p=${signing.publicBase64}`))
  })

  test('no DKIM key published at all fails; DKIM not configured warns', async () => {
    const zone = goodZone()
    delete zone['rt1._domainkey.ragtime.test']
    const port = await startDns(zone)
    const smtp = await startSmtp({ tls: localhostTls })
    const missing = await doctor(env(port, smtp))
    assert.equal(status(missing.report, 'dkim'), 'fail')
    assert.match(message(missing.report, 'dkim'), /no key is published/)

    const unsigned = await doctor(env(port, smtp, { RAGTIME_DKIM_SELECTOR: '', RAGTIME_DKIM_PRIVATE_KEY: '' }))
    assert.equal(status(unsigned.report, 'dkim'), 'warn')
    assert.match(message(unsigned.report, 'dkim'), /Gmail, Yahoo and Microsoft require DKIM/)
    assert.equal(status(unsigned.report, 'alignment'), 'warn', 'DMARC then rests on SPF alone')
    assert.equal(unsigned.code, 0, 'warnings alone do not fail')
  })

  test('no DMARC record: a warning (documented choice), with the record to start from', async () => {
    const zone = goodZone()
    delete zone['_dmarc.ragtime.test']
    const { code, report } = await doctor(env(await startDns(zone), await startSmtp({ tls: localhostTls })))
    assert.equal(status(report, 'dmarc'), 'warn')
    assert.match(message(report, 'dmarc'), /no "v=DMARC1" record at _dmarc\.ragtime\.test/)
    assert.match(message(report, 'dmarc'), /v=DMARC1; p=none/)
    assert.equal(code, 0)
    assert.equal(report.ok, true)
  })

  test('a sender at gmail.com fails', async () => {
    const { code, report } = await doctor(
      env(await startDns(goodZone()), await startSmtp({ tls: localhostTls }), {
        RAGTIME_MAIL_SENDER: 'Ragtime <someone@gmail.com>',
        RAGTIME_DKIM_DOMAIN: 'ragtime.test',
      }),
    )
    assert.equal(code, 1)
    assert.equal(status(report, 'sender'), 'fail')
    assert.match(message(report, 'sender'), /mailbox at gmail\.com/)
    assert.equal(status(report, 'alignment'), 'fail', 'neither ragtime.test nor bounce.ragtime.test aligns with gmail.com')
  })

  test('a relay without STARTTLS fails: credentials and mail would cross in clear', async () => {
    const { code, report } = await doctor(env(await startDns(goodZone()), await startSmtp({ starttls: false })))
    assert.equal(code, 1)
    assert.equal(status(report, 'relay'), 'fail')
    assert.match(message(report, 'relay'), /does not offer STARTTLS/)
    assert.match(message(report, 'relay'), /in clear/)
  })

  test('a relay whose certificate is self-signed fails', async () => {
    const { code, report } = await doctor(env(await startDns(goodZone()), await startSmtp()))
    assert.equal(code, 1)
    assert.equal(status(report, 'relay'), 'fail')
    assert.match(message(report, 'relay'), /certificate is NOT valid for localhost/)
  })

  test('STARTTLS offered but MAIL_USE_TLS off fails (the worker would send in clear); an unreachable relay fails with the error', async () => {
    const port = await startDns(goodZone())
    const off = await doctor(env(port, await startSmtp({ tls: localhostTls }), { MAIL_USE_TLS: '' }))
    assert.equal(status(off.report, 'relay'), 'fail')
    assert.match(message(off.report, 'relay'), /MAIL_USE_TLS is off/)

    const down = await doctor(env(port, await deadPort()))
    assert.equal(status(down.report, 'relay'), 'fail')
    assert.match(message(down.report, 'relay'), /cannot talk to it \(.*ECONNREFUSED/)
  })

  test('TLS from the start (MAIL_USE_SSL) with a valid certificate is ok', async () => {
    const smtp = await startSmtp({ tls: localhostTls, secure: true })
    const { report } = await doctor(env(await startDns(goodZone()), smtp, { MAIL_USE_TLS: '', MAIL_USE_SSL: '1' }))
    assert.equal(status(report, 'relay'), 'ok', message(report, 'relay'))
    assert.match(message(report, 'relay'), /TLS from the start \(MAIL_USE_SSL\), and its certificate is valid for localhost/)
  })

  test('a bounce domain without MX records fails', async () => {
    const zone = goodZone()
    delete zone['bounce.ragtime.test']!.MX
    const { code, report } = await doctor(env(await startDns(zone), await startSmtp({ tls: localhostTls })))
    assert.equal(code, 1)
    assert.equal(status(report, 'bounce'), 'fail')
    assert.match(message(report, 'bounce'), /bounce\.ragtime\.test has no MX records/)
  })

  test('SPF: missing, two records, +all, over 10 look-ups, and a relay the record does not cover', async () => {
    const smtp = await startSmtp({ tls: localhostTls })
    const run = async (txt: string[]) => {
      const zone = goodZone()
      zone['bounce.ragtime.test']!.TXT = txt
      return (await doctor(env(await startDns(zone), smtp))).report
    }
    const none = await run([])
    assert.equal(status(none, 'spf'), 'fail')
    assert.match(message(none, 'spf'), /no "v=spf1" TXT record/)
    assert.equal(status(await run(['v=spf1 -all', 'v=spf1 ~all']), 'spf'), 'fail')
    const open = await run(['v=spf1 +all'])
    assert.equal(status(open, 'spf'), 'fail')
    assert.match(message(open, 'spf'), /authorises every host/)
    const tooMany = goodZone()
    tooMany['bounce.ragtime.test']!.TXT = [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `include:s${i}.ragtime.test`).join(' ')} -all`]
    for (let i = 0; i < 11; i++) tooMany[`s${i}.ragtime.test`] = { TXT: ['v=spf1 ip4:192.0.2.1 -all'] }
    const lookups = (await doctor(env(await startDns(tooMany), smtp))).report
    assert.equal(status(lookups, 'spf'), 'fail')
    assert.match(message(lookups, 'spf'), /more than 10 DNS look-ups/)
    const elsewhere = await run(['v=spf1 ip4:192.0.2.0/24 ~all'])
    assert.equal(status(elsewhere, 'spf'), 'warn')
    assert.match(message(elsewhere, 'spf'), /ends in ~all/)
    assert.match(message(elsewhere, 'spf'), /127\.0\.0\.1: softfail/)
  })

  test('DNS unreachable: every DNS check says "cannot resolve", status unknown, exit non-zero, never OK', async () => {
    const environment = env(await deadPort(), await startSmtp({ tls: localhostTls }))
    const { code, report } = await doctor(environment)
    assert.equal(code, 1)
    assert.equal(report.ok, false)
    for (const name of ['spf', 'dkim', 'dmarc', 'bounce']) {
      assert.equal(status(report, name), 'unknown', name)
      assert.match(message(report, name), /cannot resolve/, name)
    }
    const text = await runRagtime(['mail', 'doctor'], environment)
    assert.equal(text.code, 1)
    assert.match(text.stdout, /^UNKNOWN spf {7}.*cannot resolve/m)
    assert.match(text.stdout, /^NOT OK: 4 could not be checked$/m)
    assert.doesNotMatch(text.stdout, /^OK:/m)
  })
})
