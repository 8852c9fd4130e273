import type { FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../accounts/index.ts'

/** The submitted fields, whether they came as a form or as JSON (anything else: none). */
export function fields(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
}

/** Only the text fields worth showing back in a form (never a password). */
export function echo(input: Record<string, unknown>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, typeof input[name] === 'string' ? input[name].slice(0, 300) : '']))
}

/** A POST answered with a page redirects (303) so a reload does not send it again. */
export function seeOther(reply: FastifyReply, location: string) {
  return reply.code(303).header('location', location).send()
}

/**
 * The logged-in user, or an answer already sent: 401 / log-in page when nobody is logged in,
 * 403 / the unconfirmed page when `confirmed` is required and the address is not confirmed.
 */
export function requireUser(
  request: FastifyRequest,
  reply: FastifyReply,
  { confirmed = true }: { confirmed?: boolean } = {},
): User | undefined {
  const user = request.user
  if (!user) {
    if (request.wantsJson) reply.problem({ status: 401, code: 'not_logged_in', message: 'Log in first.' })
    else seeOther(reply, '/auth/login')
    return undefined
  }
  if (confirmed && !user.confirmed) {
    if (request.wantsJson) reply.problem({ status: 403, code: 'unconfirmed', message: 'Confirm your address first.' })
    else seeOther(reply, '/auth/unconfirmed')
    return undefined
  }
  return user
}

/** The page for a link that is expired, used, tampered with or meant for something else. */
export function badLink(reply: FastifyReply, reason: 'invalid' | 'expired', retry: { href: string; label: string }) {
  const message =
    reason === 'expired' ? 'This link has expired.' : 'This link is not valid: it may have been used already or replaced by a newer one.'
  return reply.problem(
    { status: 400, code: reason === 'expired' ? 'expired_token' : 'invalid_token', message },
    { name: 'bad-link', data: { title: 'Link not valid', retry } },
  )
}
