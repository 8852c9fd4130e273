/**
 * One email in the shape an app describes it: a template, a recipient, a subject and the
 * template's context. The renderer turns it into a message.
 */
export interface EmailMessage {
  readonly template: string
  /** An address, or an address with a display name. */
  readonly to: string | { readonly name: string; readonly address: string }
  /** Without the renderer's prefix, which is added for you. */
  readonly subject: string
  readonly context: object
}

/**
 * An email to one of the app's templates, typed by its map of template name → context:
 *
 * ```ts
 * interface Templates { welcome: { name: string } }
 * const outbox = createOutbox<Templates>({ … })
 * await outbox.enqueue(trx, { template: 'welcome', to, subject: 'Welcome', context: { name } })
 * ```
 *
 * A wrong name or a wrong context fails to compile.
 */
export interface Email<Templates, T extends TemplateName<Templates> = TemplateName<Templates>> {
  readonly template: T
  readonly to: EmailMessage['to']
  readonly subject: string
  readonly context: Templates[T]
}

export type TemplateName<Templates> = keyof Templates & string
