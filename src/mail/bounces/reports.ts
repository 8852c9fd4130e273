import { createHash } from 'node:crypto'
import { type MimePart, parseHeaders, parseMime, walk } from './mime.ts'

/** One thing a report says about one of our messages. */
export interface ParsedReport {
  readonly kind: 'bounce' | 'delay' | 'complaint'
  /** RFC 3463 status, when given. */
  readonly status?: string | undefined
  /** The remote server's words (Diagnostic-Code), or the feedback type. */
  readonly detail: string
  /** The Message-ID of our message, as returned in the report. */
  readonly originalMessageId?: string | undefined
  /** Unique per report and recipient: the same report delivered twice counts once. */
  readonly reportId: string
}

export type ReadResult =
  | { readonly format: 'dsn' | 'arf' | 'bounce'; readonly reports: readonly ParsedReport[] }
  | { readonly format: 'none'; readonly why: string }

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/
const PERMANENT_REPLY = /\b5\d\d[ -](?:([245]\.\d{1,3}\.\d{1,3})\b)?.*/
const BOUNCE_SENDER = /^(?:mailer-daemon|postmaster|mail-daemon|mailer)@/i
const BOUNCE_SUBJECT = /undeliver|undelivered|returned mail|delivery (?:status notification|failure|has failed)|failure notice|not delivered|could not be delivered/i

/**
 * Reads a delivery report: an RFC 3464 DSN (multipart/report with message/delivery-status), an
 * RFC 5965 ARF complaint (message/feedback-report), or a non-standard bounce (from a mailer
 * daemon, with an SMTP 5xx reply and the original headers quoted). Anything else (an auto-reply,
 * spam, a person writing back) is not a report.
 */
export function readReport(raw: string): ReadResult {
  const root = parseMime(raw)
  const reportId = ownId(root, raw)
  const original = originalMessageId(root)
  const parts = [...walk(root)]

  const delivery = parts.find((p) => p.contentType === 'message/delivery-status' || p.contentType === 'message/global-delivery-status')
  if (delivery) {
    const reports: ParsedReport[] = []
    // The per-message fields come first, then one block per recipient.
    const blocks = delivery.body.split(/\r?\n\s*\r?\n/).map(parseHeaders).slice(1)
    for (const [i, fields] of blocks.entries()) {
      const action = fields.get('action')?.toLowerCase()
      const status = ENHANCED.exec(fields.get('status') ?? '')?.[0]
      const detail = fields.get('diagnostic-code')?.replace(/^[a-z-]+;\s*/i, '') ?? `status ${status ?? 'unknown'}`
      if (action === 'failed') reports.push({ kind: 'bounce', status, detail, originalMessageId: original, reportId: `${reportId}:${i}` })
      else if (action === 'delayed') reports.push({ kind: 'delay', status, detail, originalMessageId: original, reportId: `${reportId}:${i}` })
    }
    return reports.length > 0 ? { format: 'dsn', reports } : { format: 'none', why: 'a delivery report with no failed or delayed recipient' }
  }

  const feedback = parts.find((p) => p.contentType === 'message/feedback-report')
  if (feedback) {
    const fields = parseHeaders(feedback.body)
    const type = (fields.get('feedback-type') ?? '').toLowerCase()
    if (!['abuse', 'fraud', 'virus'].includes(type)) return { format: 'none', why: `a feedback report of type "${type || 'none'}"` }
    return { format: 'arf', reports: [{ kind: 'complaint', detail: `feedback-type ${type}`, originalMessageId: original, reportId }] }
  }

  // Non-standard bounces: only from a mailer daemon, or with a bounce's subject, and with a 5xx reply.
  const from = /<([^>]+)>/.exec(root.headers.get('from') ?? '')?.[1] ?? root.headers.get('from') ?? ''
  if (!BOUNCE_SENDER.test(from.trim()) && !BOUNCE_SUBJECT.test(root.headers.get('subject') ?? '')) {
    return { format: 'none', why: 'neither a report nor from a mailer daemon' }
  }
  const text = parts.filter((p) => p.parts.length === 0 && p.contentType.startsWith('text/')).map((p) => p.body).join('\n')
  const reply = PERMANENT_REPLY.exec(text)
  if (!reply) return { format: 'none', why: 'a mailer-daemon message without a permanent (5xx) reply' }
  const status = reply[1] ?? ENHANCED.exec(reply[0])?.[0]
  const quoted = original ?? /^\s*Message-ID:\s*(<[^>\s]+>)/im.exec(text)?.[1]
  return { format: 'bounce', reports: [{ kind: 'bounce', status, detail: reply[0].trim().slice(0, 300), originalMessageId: quoted, reportId }] }
}

/** The report's own Message-ID, or a digest of it when it has none. */
function ownId(root: MimePart, raw: string): string {
  const id = root.headers.get('message-id')?.trim()
  return id && id.length <= 250 ? id : `sha256:${createHash('sha256').update(raw).digest('hex')}`
}

/** The Message-ID of the message the report is about, from its returned headers or message. */
function originalMessageId(root: MimePart): string | undefined {
  for (const part of walk(root)) {
    if (part === root) continue
    if (['message/rfc822', 'text/rfc822-headers', 'message/rfc822-headers', 'message/global', 'message/global-headers'].includes(part.contentType)) {
      const id = parseHeaders(part.body.split(/\r?\n\r?\n/)[0] ?? '').get('message-id')
      if (id) return /<[^>\s]+>/.exec(id)?.[0] ?? id.trim()
    }
  }
  return undefined
}
