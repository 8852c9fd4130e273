import { randomUUID } from 'node:crypto'
import { channel } from 'node:diagnostics_channel'
import { Eta } from 'eta'
import type Juice from 'juice'
import DKIM from 'nodemailer/lib/dkim'
import MailComposer from 'nodemailer/lib/mail-composer'
import { type Mailbox, normalizeAddress, parseMailbox } from '../address.ts'
import type { EmailMessage } from '../email.ts'
import { MailInputError } from '../errors.ts'
import { headerText } from './header-text.ts'

/** An email as stored in the outbox: the exact bytes every attempt sends. */
export interface RenderedMail {
  readonly messageId: string
  readonly envelopeFrom: string
  /** The recipient's normalised address. */
  readonly recipient: string
  /** With the prefix. */
  readonly subject: string
  readonly text: string
  readonly html: string
  /** The complete RFC 5322 message: multipart/alternative, text first, CRLF line ends, DKIM-signed when configured. */
  readonly raw: string
}

/** DKIM signing: relaxed/relaxed, rsa-sha256, over From, To, Subject, Date, Message-ID and the MIME headers. */
export interface DkimSigning {
  readonly selector: string
  readonly domain: string
  /** PEM. */
  readonly privateKey: string
}

export interface RendererOptions {
  /** The folder holding `<area>/<name>.txt|.html` and `layouts/`. */
  readonly templatesDir: string
  /** Put before every subject, such as `[Acme] `; default none. */
  readonly subjectPrefix?: string | undefined
  /** `Name <address>` or a bare address. */
  readonly sender: string
  /** Each message is signed once, here, and stored signed. */
  readonly dkim?: DkimSigning | undefined
}

/**
 * On every message: it is machine-sent (RFC 3834), so out-of-office and other auto-replies stay
 * away, Exchange's included.
 */
const AUTOMATIC_HEADERS = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' }

export interface Renderer {
  render(email: EmailMessage, date: Date): Promise<RenderedMail>
}

/**
 * Every render is published here with its `{ template }` before it starts: what a test counts to
 * show that two paths render alike (node:diagnostics_channel, free while nobody subscribes).
 */
export const RENDER_CHANNEL = 'outbox:render'
const renders = channel(RENDER_CHANNEL)

export function createRenderer(options: RendererOptions): Renderer {
  const sender = parseSender(options.sender)
  const senderDomain = sender.address.slice(sender.address.lastIndexOf('@') + 1)
  const html = new Eta({ views: options.templatesDir, autoEscape: true, autoTrim: false, cache: true })
  const text = new Eta({ views: options.templatesDir, autoEscape: false, autoTrim: false, cache: true })
  const signer = options.dkim
    ? new DKIM({ domainName: options.dkim.domain, keySelector: options.dkim.selector, privateKey: options.dkim.privateKey })
    : undefined

  return {
    async render(email, date) {
      if (renders.hasSubscribers) renders.publish({ template: email.template })
      const to = recipient(email.to)
      const subject = headerText((options.subjectPrefix ?? '') + email.subject)
      const data = { ...email.context, subject }
      const textBody = text.render(`${email.template}.txt`, data).trim() + '\n'
      // Inlined CSS: many mail clients ignore <style> blocks.
      const htmlBody = await inlineCss(html.render(`${email.template}.html`, data))
      const messageId = `<${randomUUID()}@${senderDomain}>`
      const composer = new MailComposer({
        from: sender,
        to: [to],
        subject,
        text: textBody,
        html: htmlBody,
        messageId,
        date,
        headers: AUTOMATIC_HEADERS,
        disableFileAccess: true,
        disableUrlAccess: true,
      })
      const built = await new Promise<Buffer>((resolve, reject) =>
        composer.compile().build((err, message) => (err ? reject(err) : resolve(message))),
      )
      // The composer leaves the text parts' own bare LFs: CRLF throughout, as on the wire, so
      // that the stored bytes are the signed bytes.
      const crlf = built.toString('utf8').replace(/\r?\n/g, '\r\n')
      const raw = signer ? await signed(signer, crlf) : crlf
      return {
        messageId,
        envelopeFrom: sender.address,
        recipient: to.address,
        subject,
        text: textBody,
        html: htmlBody,
        raw,
      }
    },
  }
}

/**
 * juice, loaded with the first render: it brings cheerio, parse5 and undici (~300 ms of start-up),
 * which processes that only deliver or inspect the queue (workers, CLI commands) never need.
 */
let juice: Promise<typeof Juice> | undefined
const CUSTOM_PROPERTIES = /var\(|--[\w-]*\s*:/

async function inlineCss(html: string): Promise<string> {
  juice ??= import('juice').then((module) => module.default)
  // Resolving CSS custom properties is half of juice's work per message. A document that neither
  // uses var() nor declares a property (--name:) gives it nothing to resolve or drop, and the same
  // output without it; any doubt (those characters in text too) keeps juice's default.
  return (await juice)(html, { resolveCSSVariables: CUSTOM_PROPERTIES.test(html) })
}

async function signed(signer: DKIM, message: string): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of signer.sign(message)) chunks.push(chunk as Buffer)
  const out = Buffer.concat(chunks).toString('utf8')
  // nodemailer's signer leaves the message unsigned when the key cannot sign: never store that silently.
  if (!out.startsWith('DKIM-Signature:')) throw new Error('DKIM signing failed: check the private key')
  return out
}

function recipient(to: EmailMessage['to']): Mailbox {
  const input = typeof to === 'string' ? { name: '', address: to } : to
  const result = normalizeAddress(input.address, { singleLabelDomain: true })
  if (!result.ok) throw new MailInputError(`bad recipient (${result.problem})`)
  return { name: headerText(input.name), address: result.address }
}

function parseSender(value: string): Mailbox {
  const sender = parseMailbox(value)
  if (!sender) throw new MailInputError(`the sender must be one address, such as "Example <noreply@example.com>" (got "${value}")`)
  return sender
}
