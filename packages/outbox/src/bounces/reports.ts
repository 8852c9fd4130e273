import { createHash } from 'node:crypto'
import { ENHANCED_STATUS } from '../smtp-status.ts'
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
  /** The address the report is about (a DSN's Final-Recipient), when it says. */
  readonly recipient?: string | undefined
  /** Unique per report and recipient: the same report delivered twice counts once. */
  readonly reportId: string
}

export type ReadResult =
  | { readonly format: 'dsn' | 'arf' | 'bounce'; readonly reports: readonly ParsedReport[] }
  | { readonly format: 'none'; readonly why: string }

// Everything here runs on mail from strangers: only anchored patterns with bounded repetition,
// applied to bounded lines, so that no input costs more than linear time.
const MAX_LINE = 1_000
const REPLY_AT_LINE_START = /^[ \t>]{0,8}(5\d\d)[ -](?:(5\.\d{1,3}\.\d{1,3})\b)?/
const BOUNCE_SENDER = /^(?:mailer-daemon|postmaster|mail-daemon|mailer)@/i
const BOUNCE_SUBJECT = /undeliver|returned mail|delivery status notification|delivery failure|delivery has failed|failure notice|not delivered/i
const NOT_FINAL = /delay|warning|temporar/i

/**
 * Reads a delivery report: an RFC 3464 DSN (multipart/report with message/delivery-status), an
 * RFC 5965 ARF complaint (message/feedback-report), or a non-standard bounce (from a mailer
 * daemon, with an SMTP 5xx reply at the start of a line and the original headers quoted).
 * Anything else (an auto-reply, spam, a person writing back, a delay warning) is not a report.
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
    const blocks = delivery.body.split(/\r?\n[ \t]*\r?\n/).map(parseHeaders).slice(1)
    for (const [i, fields] of blocks.entries()) {
      const action = fields.get('action')?.toLowerCase()
      const status = ENHANCED_STATUS.exec(fields.get('status') ?? '')?.[0]
      const detail = (fields.get('diagnostic-code') ?? '').replace(/^[a-z-]{1,20};\s*/i, '') || `status ${status ?? 'unknown'}`
      const recipient = addressIn(fields.get('final-recipient') ?? fields.get('original-recipient') ?? '')
      const kind = action === 'failed' ? 'bounce' : action === 'delayed' ? 'delay' : undefined
      if (kind) reports.push({ kind, status, detail, originalMessageId: original, recipient, reportId: `${reportId}:${i}` })
    }
    return reports.length > 0 ? { format: 'dsn', reports } : { format: 'none', why: 'a delivery report with no failed or delayed recipient' }
  }

  const feedback = parts.find((p) => p.contentType === 'message/feedback-report')
  if (feedback) {
    const fields = parseHeaders(feedback.body)
    const type = (fields.get('feedback-type') ?? '').toLowerCase()
    if (!['abuse', 'fraud', 'virus'].includes(type)) return { format: 'none', why: `a feedback report of type "${type.slice(0, 40) || 'none'}"` }
    return { format: 'arf', reports: [{ kind: 'complaint', detail: `feedback-type ${type}`, originalMessageId: original, reportId }] }
  }

  // Non-standard bounces: from a mailer daemon or with a bounce's subject, not a delay warning,
  // and with a permanent SMTP reply at the start of a line.
  const subject = root.headers.get('subject') ?? ''
  const from = addressIn(root.headers.get('from') ?? '') ?? ''
  if (!BOUNCE_SENDER.test(from) && !BOUNCE_SUBJECT.test(subject)) return { format: 'none', why: 'neither a report nor from a mailer daemon' }
  if (NOT_FINAL.test(subject)) return { format: 'none', why: 'a delay warning, not a bounce' }
  const lines = parts
    .filter((p) => p.parts.length === 0 && p.contentType.startsWith('text/'))
    .flatMap((p) => p.body.split('\n'))
    .map((line) => line.slice(0, MAX_LINE).replace(/\r$/, ''))
  const reply = permanentReply(lines)
  if (!reply) return { format: 'none', why: 'a mailer-daemon message without a permanent (5xx) reply' }
  const quoted = original ?? quotedMessageId(lines)
  return { format: 'bounce', reports: [{ kind: 'bounce', status: reply.status, detail: reply.line.trim().slice(0, 300), originalMessageId: quoted, reportId }] }
}

/** The first line that is a permanent SMTP reply with an enhanced code, or a 550–554 with words. */
function permanentReply(lines: readonly string[]): { line: string; status: string | undefined } | undefined {
  for (const line of lines) {
    const match = REPLY_AT_LINE_START.exec(line)
    if (!match) continue
    const [whole, code = '', status] = match
    if (status || (Number(code) >= 550 && Number(code) <= 554 && /^ ?[A-Za-z<]/.test(line.slice(whole.length)))) return { line, status }
  }
  return undefined
}

/** A `Message-ID:` header quoted in the text, as non-standard bounces return the original's headers. */
function quotedMessageId(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const trimmed = line.trimStart()
    if (trimmed.slice(0, 11).toLowerCase() === 'message-id:') return addressIn(trimmed.slice(11))
  }
  return undefined
}

/** What is between the first `<` and the next `>`, or the trimmed text after a `type;` prefix. */
function addressIn(text: string): string | undefined {
  const open = text.indexOf('<')
  const close = open < 0 ? -1 : text.indexOf('>', open + 1)
  if (open >= 0 && close > open + 1) return text.slice(open + 1, close).trim() || undefined
  const value = text.slice(text.indexOf(';') + 1).trim()
  return value && !/\s/.test(value) ? value : undefined
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
      const end = part.body.search(/\r?\n\r?\n/)
      const id = parseHeaders(end < 0 ? part.body : part.body.slice(0, end)).get('message-id')
      if (id) {
        const inner = addressIn(id)
        return inner ? `<${inner}>` : undefined
      }
    }
  }
  return undefined
}
