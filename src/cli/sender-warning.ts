import type { Config } from '../config/index.ts'
import { parseMailbox } from '../lib/email-address.ts'
import type { Logger } from '../logger.ts'
import { isMailboxProvider } from '../mail/mailbox-providers.ts'

/**
 * In production, one line when the sender is at a mailbox provider (gmail.com, outlook.com…):
 * their DMARC policy makes every relay's mail from such an address fail, so it is refused or
 * filed as spam. A warning, not a refusal: `ragtime mail doctor` explains and checks the rest.
 */
export function warnAboutSender(config: Config, logger: Logger): void {
  if (!config.production) return
  const address = parseMailbox(config.mailSender)?.address
  const domain = address?.slice(address.lastIndexOf('@') + 1)
  if (domain && isMailboxProvider(domain)) {
    logger.warn(
      { sender: address },
      `the sender ${address} is at ${domain}, a mailbox provider whose DMARC policy makes relayed mail fail: set RAGTIME_MAIL_SENDER to an address at your own domain (ragtime mail doctor checks it)`,
    )
  }
}
