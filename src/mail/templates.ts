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

/** One email, in the lesson's shape: a template, a recipient, a subject and a context. */
export interface Email<T extends TemplateName = TemplateName> {
  readonly template: T
  /** An address, or an address with a display name. */
  readonly to: string | { readonly name: string; readonly address: string }
  /** Without the configured prefix, which is added for you. */
  readonly subject: string
  readonly context: MailTemplates[T]
}
