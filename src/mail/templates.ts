import type { Email as OutboxEmail, Outbox as EngineOutbox } from '@ragtime/outbox'

/**
 * Template name → the context its `.txt` and `.html` files need. Other modules add their
 * emails by declaration merging:
 *
 * ```ts
 * declare module '../mail/index.ts' {
 *   interface MailTemplates { 'auth/confirm': { username: string; confirmUrl: string } }
 * }
 * ```
 *
 * so `enqueue(trx, { template: 'auth/confirm', context })` fails to compile with a wrong context.
 */
export interface MailTemplates {
  /** `ragtime mail send-test`: proves the whole path works. */
  'system/test': { sentAt: string; baseUrl: string }
}

export type TemplateName = keyof MailTemplates & string

/** One of Ragtime's emails, in the lesson's shape: a template, a recipient, a subject and a context. */
export type Email<T extends TemplateName = TemplateName> = OutboxEmail<MailTemplates, T>

/** The outbox (@ragtime/outbox) over Ragtime's templates. */
export type Outbox = EngineOutbox<MailTemplates>
