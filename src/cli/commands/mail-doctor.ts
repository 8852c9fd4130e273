import { type Config, ConfigError, loadConfig } from '../../config/index.ts'
import { parseMailbox } from '../../lib/email-address.ts'
import { doctorDns, formatReport, mailDoctor } from '../../mail/doctor/index.ts'
import { parseCommand } from '../args.ts'
import { fail } from '../context.ts'

const USAGE = `usage: ragtime mail doctor [--json]

Checks the configured sender and relay the way receiving mail servers will judge them, and says
what to fix: the sender's domain (not a mailbox provider's), SPF of the envelope-sender domain,
DKIM (the published key against RAGTIME_DKIM_PRIVATE_KEY), DMARC and alignment, the relay's TLS
(STARTTLS or MAIL_USE_SSL, a certificate valid for MAIL_SERVER), and MX records for bounces.
Nothing is sent and no login is tried.

Each check is OK, WARN (mail goes out, but something hurts delivery), FAIL (mail is refused,
lost or exposed) or UNKNOWN (DNS or the relay did not answer: not checked).

Options:
  --json      print { "ok": boolean, "checks": [{ "name", "status", "message", "details"? }] }
  -h, --help  show this help

Environment: RAGTIME_DNS_SERVERS (e.g. "1.1.1.1" or "10.0.0.2,127.0.0.1:5353") asks these DNS
servers instead of the system's, to see the public view from behind split DNS.

Exit status: 0 when no check failed or was unknown (warnings allowed), 1 otherwise, 2 on a usage error.

Example:
  MAIL_SERVER=smtp.example.com RAGTIME_MAIL_SENDER='Ragtime <noreply@example.com>' ragtime mail doctor`

/** `ragtime mail doctor [--json]`: needs no database. */
export async function mailDoctorCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, { name: 'mail doctor', usage: USAGE, options: { json: { type: 'boolean' } } })
  if (!parsed) return
  const { values } = parsed
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
  const dns = doctorDns(config.dnsServers)
  const report = await mailDoctor(config, { dns })
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`)
  } else {
    const sender = parseMailbox(config.mailSender)?.address ?? config.mailSender
    const relay = config.smtp ? `${config.smtp.host}:${config.smtp.port}` : 'none (development inbox)'
    const heading =
      `ragtime mail doctor: From ${sender}, envelope sender ${config.bounceAddress ? `${config.bounceAddress} (each message gets its own +tag)` : sender}, ` +
      `relay ${relay}, DNS ${dns.servers.join(', ') || 'system default'}`
    process.stdout.write(`${formatReport(report, heading)}\n`)
  }
  process.exitCode = report.ok ? 0 : 1
}
