import { type Config, ConfigError, loadConfig } from '../../config/index.ts'
import { parseMailbox } from '../../lib/email-address.ts'
import { doctorDns, formatReport, mailDoctor } from '../../mail/doctor/index.ts'
import type { Parsed } from '../args.ts'
import { fail } from '../fail.ts'
import type { MAIL_DOCTOR } from '../specs.ts'


/** `ragtime mail doctor [--json]`: needs no database. */
export async function doctor({ values }: Parsed<typeof MAIL_DOCTOR>): Promise<void> {
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
