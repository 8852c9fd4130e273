import type { OutboxRow } from '../mail/index.ts'

/**
 * Where a user's confirmation email is, in words for the person waiting for it: always ours.
 * A relay's own reply is never shown (it may name our infrastructure, or carry text a remote
 * server chose); the admin's dashboard keeps it.
 */
export interface DeliveryStatus {
  readonly state: 'none' | 'on-its-way' | 'sent' | 'retrying' | 'failed'
  readonly headline: string
  /** What it means and what to do, when there is more to say. */
  readonly advice: string | null
  /** The address cannot take our mail: offer to correct it. */
  readonly canCorrect: boolean
}

/**
 * The subject and detail of the failure's enhanced status (`1.1` of 5.1.1), or '' without one;
 * then the words of the server's reply may still say the mailbox does not exist.
 */
function statusOf(mail: OutboxRow): { code: string; noSuchUser: boolean } {
  const [, subject, detail] = mail.lastFailure?.smtpStatus?.split('.') ?? []
  const code = subject && detail ? `${subject}.${detail}` : ''
  return { code, noSuchUser: code === '1.1' || (!code && /user unknown|no such user|does not exist|mailbox unavailable/i.test(mail.lastError ?? '')) }
}

/** In a few words, what a permanent failure means for the address. */
function bounceReason(mail: OutboxRow): string {
  const { code, noSuchUser } = statusOf(mail)
  if (noSuchUser) return 'no such mailbox'
  if (code === '1.2' || code === '1.10') return 'no such domain'
  if (code === '2.1') return 'mailbox disabled'
  if (code === '2.2') return 'mailbox full'
  return 'refused by the receiving server'
}

/** Why a permanent failure happened, from the status the outbox stored with it. */
function bounceAdvice(mail: OutboxRow, domain: string): string {
  const { code, noSuchUser } = statusOf(mail)
  if (noSuchUser) {
    return `The mail server for ${domain} says there is no mailbox with this address. Check it for a typo.`
  }
  if (code === '1.2' || code === '1.10') return `${domain} does not accept email (the domain may be misspelt). Check the part after the @.`
  if (code === '2.1') return 'This mailbox exists but is switched off. Use another address.'
  if (code === '2.2') return 'This mailbox is full. Make some room and ask for a new link, or use another address.'
  if (code.startsWith('7.')) return `The mail server for ${domain} refused our email (it may have taken it for spam). Use another address, or ask your provider to allow our mail.`
  return `The mail server for ${domain} refused our email. Check the address, or use another one.`
}

export function describeDelivery(mail: OutboxRow | undefined, now: number): DeliveryStatus {
  const quiet = { advice: null, canCorrect: false }
  if (!mail) return { state: 'none', headline: 'No confirmation email has been sent yet.', ...quiet }
  const domain = mail.recipient.slice(mail.recipient.lastIndexOf('@') + 1)
  switch (mail.state) {
    case 'queued':
    case 'sending':
      return { state: 'on-its-way', headline: 'Your confirmation email is on its way.', ...quiet }
    case 'sent': {
      // Accepted by the SMTP server we deliver to (often a relay), not yet by the user's mailbox.
      const at = mail.sentAt === null ? '' : ` at ${new Date(mail.sentAt).toISOString().slice(11, 16)} UTC`
      return {
        state: 'sent',
        headline: `Sent${at}.`,
        advice: 'If it is not in your inbox within a few minutes, look in your spam folder.',
        canCorrect: false,
      }
    }
    case 'retrying': {
      // A transient error may be ours (our relay, our network): its text is not for the user.
      const minutes = Math.max(1, Math.round((mail.runAt - now) / 60_000))
      return {
        state: 'retrying',
        headline: `It has not gone out yet; we will try again in about ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        advice: 'This is usually temporary. You do not need to do anything.',
        canCorrect: false,
      }
    }
    case 'suppressed':
      return {
        state: 'failed',
        headline: 'We could not send it: an earlier email to this address bounced.',
        advice: 'Mail to this address cannot be delivered. Correct it below, or use another address.',
        canCorrect: true,
      }
    case 'bounced':
      // Accepted by our relay, then bounced by the recipient's server (a DSN or the provider's webhook).
      return {
        state: 'failed',
        headline: `Your confirmation email could not be delivered: ${bounceReason(mail)}.`,
        advice: bounceAdvice(mail, domain),
        canCorrect: true,
      }
    case 'expired':
      return {
        state: 'failed',
        headline: 'Your confirmation email was not sent in time, and its link has expired.',
        advice: 'Ask for a new link.',
        canCorrect: false,
      }
    case 'dead':
    case 'cancelled': {
      // Only a receiving server's refusal (5xx) is about the address; explain it then only.
      const failure = mail.state === 'dead' ? mail.lastFailure : null
      const refused = failure?.kind === 'permanent' && failure.smtpCode !== null && failure.smtpCode >= 500
      const advice =
        mail.state === 'cancelled'
          ? 'It was stopped before it went out. Ask for a new link.'
          : refused
            ? bounceAdvice(mail, domain)
            : failure?.kind === 'gave-up'
              ? `We tried for a day but could not reach the mail server for ${domain}. Check the address, or ask for a new link later.`
              : 'Something went wrong on our side. Ask for a new link; if it happens again, contact us.'
      return {
        state: 'failed',
        headline: refused ? `Your confirmation email could not be delivered: ${bounceReason(mail)}.` : 'We could not deliver your confirmation email.',
        advice,
        canCorrect: true,
      }
    }
  }
}
