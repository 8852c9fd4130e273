import type {} from '@fastify/cookie'
import type { Accounts, FieldErrors, User } from '../accounts/index.ts'
import type { Config } from '../config/index.ts'
import type { Db } from '../db/index.ts'
import type { Clock, MailOperations, Outbox, RelayStatus } from '../mail/index.ts'
import type { Metrics } from '../metrics/index.ts'
import type { ErrorCode } from './error-codes.ts'

/** Everything the web app is built from; tests pass their own. */
export interface AppDeps {
  readonly config: Config & { readonly secretKey: string }
  readonly db: Db
  readonly outbox: Outbox
  readonly accounts: Accounts
  readonly clock: Clock
  /** The dashboard's and the CLI's view of the outbox, and what they may do to it. */
  readonly operations: MailOperations
  readonly metrics: Metrics
  /**
   * The SMTP relays of the worker running in this process, with a fallback relay configured;
   * empty otherwise (no worker here, or no MAIL_FALLBACK_SERVER).
   */
  readonly relays: () => readonly RelayStatus[]
}

/** One error, in the contract's JSON shape and for the error page. */
export interface Problem {
  readonly status: number
  /** One of the catalog (error-codes.ts). */
  readonly code: ErrorCode
  readonly message: string
  readonly fields?: FieldErrors
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps
  }
  interface FastifyRequest {
    user: User | undefined
    sessionToken: string | undefined
    /** The value forms carry in `_csrf`. */
    csrfToken: string
    /** The client asked for JSON (Accept: application/json). */
    wantsJson: boolean
  }
  interface FastifyReply {
    /** Renders `templates/pages/<name>.html` inside the layout. */
    page(name: string, data?: Record<string, unknown>, status?: number): FastifyReply
    /** An error as JSON or as a page, depending on what the client asked for. */
    problem(problem: Problem, page?: { name: string; data?: Record<string, unknown> }): FastifyReply
  }
}
