import type { WebhookSecrets } from '../../config/index.ts'
import { mailgun } from './mailgun.ts'
import { postmark } from './postmark.ts'
import { resend } from './resend.ts'
import { ses, snsTrust } from './ses.ts'
import type { ProviderName } from './types.ts'

const BUILD: Readonly<Record<ProviderName, (secret: string) => unknown>> = {
  postmark,
  resend,
  mailgun,
  ses: (secret) => ses(snsTrust(secret)),
}

/**
 * Each configured webhook secret that cannot be right (a Postmark secret without a colon, an SES
 * secret with no certificate or no topic), as a configuration problem: src/config lists them at
 * start-up with every other bad variable, in every process that reads the configuration.
 */
export function webhookSecretProblems(secrets: WebhookSecrets): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = []
  for (const [provider, build] of Object.entries(BUILD) as [ProviderName, (secret: string) => unknown][]) {
    const secret = secrets[provider]
    if (!secret) continue
    const variable = `RAGTIME_WEBHOOK_${provider.toUpperCase()}_SECRET`
    try {
      build(secret)
    } catch (err) {
      // The providers' messages start with the variable's name, which the list already shows.
      problems.push({ variable, message: (err as Error).message.replace(new RegExp(`^${variable}:? `), '') })
    }
  }
  return problems
}
