import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { RATE_RULES } from '../rate-limit.ts'
import { badLink, echo, fields, requireUser, seeOther } from './helpers.ts'

const NEW_LINK = { href: '/auth/unconfirmed', label: 'Get a new link' }

/** A link that confirmed its account already: it says so, and offers to log in (using it again logs nobody in). */
function usedLink(request: FastifyRequest, reply: FastifyReply) {
  const loggedIn = request.user !== undefined
  return reply.page('message', {
    title: 'Link already used',
    message: `This link has been used already: the account is confirmed.${loggedIn ? '' : ' Log in to continue.'}`,
    next: loggedIn ? { href: '/', label: 'Continue' } : { href: '/auth/login', label: 'Log in' },
  })
}

/**
 * Confirmation links. GET shows one button and changes nothing (mail scanners fetch links);
 * POST confirms, and logs in on first use; a repeat is harmless.
 */
export const confirmRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps

  app.get<{ Params: { token: string } }>('/auth/confirm/:token', async (request, reply) => {
    const check = await accounts.previewConfirmation(request.params.token)
    if (!check.ok) return check.reason === 'used' ? usedLink(request, reply) : badLink(reply, check.reason, NEW_LINK)
    return reply.page('confirm', { title: 'Confirm your account', action: request.url, username: check.username, email: check.email })
  })

  app.post<{ Params: { token: string } }>('/auth/confirm/:token', async (request, reply) => {
    const result = await accounts.confirm(request.params.token)
    if (!result.ok) return badLink(reply, result.reason, NEW_LINK)
    // Confirming ended the account's earlier sessions; the confirming browser gets a new one,
    // unless someone else is logged in there: their session is left as it is.
    const someoneElse = request.user !== undefined && request.user.id !== result.user.id
    if (result.firstUse && !someoneElse) await app.startSession(reply, result.user.id)
    if (request.wantsJson) return reply.send({ confirmed: true })
    // A repeat logs nobody in: a browser that is not logged in is told so, and offered a log-in.
    if (!result.firstUse && request.user === undefined) return usedLink(request, reply)
    if (someoneElse) {
      return reply.page('message', {
        title: 'Address confirmed',
        message: `The account ${result.user.username} is confirmed. You are still logged in as ${request.user?.username}.`,
        next: { href: '/', label: 'Continue' },
      })
    }
    return seeOther(reply, '/?confirmed=1')
  })

  // The "check your inbox" page; as JSON, what its script polls to follow the delivery live.
  app.get('/auth/unconfirmed', async (request, reply) => {
    const user = requireUser(request, reply, { confirmed: false })
    if (!user) return reply
    if (user.confirmed) return request.wantsJson ? reply.send({ confirmed: true }) : seeOther(reply, '/')
    const delivery = await accounts.confirmationDelivery(user.id)
    if (request.wantsJson) return reply.header('cache-control', 'no-store').send({ confirmed: false, email: user.email, delivery })
    const query = request.query as Record<string, unknown>
    return reply.page('unconfirmed', { title: 'Confirm your address', delivery, resent: query.resent === '1', corrected: query.corrected === '1' })
  })

  app.post('/auth/unconfirmed/address', async (request, reply) => {
    const user = requireUser(request, reply, { confirmed: false })
    if (!user) return reply
    if (!(await app.limit(reply, RATE_RULES.resend, `user:${user.id}`))) return reply
    const input = fields(request)
    const result = await accounts.correctAddress(user, input)
    if (result.ok) {
      if (request.wantsJson) return reply.code(202).send({ status: 'pending_confirmation' })
      return seeOther(reply, '/auth/unconfirmed?corrected=1')
    }
    if (result.reason === 'already-confirmed') {
      return reply.problem({ status: 409, code: 'already_confirmed', message: 'Your address is already confirmed.' })
    }
    const problem = {
      invalid: { status: 400, code: 'invalid_input', message: 'Check the highlighted fields.' } as const,
      'wrong-password': { status: 403, code: 'wrong_password', message: 'That is not your password.' } as const,
    }[result.reason]
    const delivery = await accounts.confirmationDelivery(user.id)
    return reply.problem(
      { ...problem, fields: result.fields },
      { name: 'unconfirmed', data: { title: 'Confirm your address', delivery, values: echo(input, ['email']) } },
    )
  })

  app.post('/auth/confirm/resend', async (request, reply) => {
    const user = requireUser(request, reply, { confirmed: false })
    if (!user) return reply
    if (!(await app.limit(reply, RATE_RULES.resend, `user:${user.id}`))) return reply
    const result = await accounts.resendConfirmation(user)
    if (!result.ok && result.reason === 'mail-budget') {
      return reply.header('retry-after', '3600').problem({
        status: 429,
        code: 'mail_budget',
        message: 'We have sent several emails to this address recently. Try again in an hour.',
      })
    }
    if (!result.ok) {
      return reply.problem({ status: 409, code: 'already_confirmed', message: 'Your address is already confirmed.' })
    }
    if (request.wantsJson) return reply.code(202).send({ status: 'pending_confirmation' })
    return seeOther(reply, '/auth/unconfirmed?resent=1')
  })
}
