import type { FastifyPluginAsync } from 'fastify'
import { addressLimitKey, RATE_RULES } from '../rate-limit.ts'
import { badLink, echo, fields, seeOther } from './helpers.ts'

const NEW_LINK = { href: '/auth/reset', label: 'Ask for a new link' }

/** Password reset: the same answer whether or not the address has an account. */
export const resetRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps

  app.get('/auth/reset', async (request, reply) => {
    const sent = (request.query as Record<string, unknown>).sent === '1'
    return reply.page('reset-request', { title: 'Reset your password', sent })
  })

  app.post('/auth/reset', async (request, reply) => {
    const input = fields(request)
    if (!(await app.limit(reply, RATE_RULES.reset, request.ip))) return reply
    // The owner's own browser gets past what a stranger could use up: the per-address limit
    // and the address's mail budget.
    const address = addressLimitKey(input.email)
    const knownDevice = app.knowsDevice(request, address)
    if (typeof input.email === 'string' && !knownDevice) {
      if (!(await app.limit(reply, RATE_RULES.resetAddress, address))) return reply
    }
    const result = await accounts.requestPasswordReset(input, { knownDevice })
    if (!result.ok) {
      return reply.problem(
        { status: 400, code: 'invalid_input', message: 'Please correct the fields below.', fields: result.fields },
        { name: 'reset-request', data: { title: 'Reset your password', values: echo(input, ['email']) } },
      )
    }
    if (request.wantsJson) return reply.code(202).send({ status: 'reset_requested' })
    return seeOther(reply, '/auth/reset?sent=1')
  })

  app.get<{ Params: { token: string } }>('/auth/reset/:token', async (request, reply) => {
    const check = await accounts.previewReset(request.params.token)
    if (!check.ok) return badLink(reply, check.reason, NEW_LINK)
    return reply.page('reset', { title: 'Choose a new password', action: request.url })
  })

  app.post<{ Params: { token: string } }>('/auth/reset/:token', async (request, reply) => {
    if (!(await app.limit(reply, RATE_RULES.resetToken, request.ip))) return reply
    const result = await accounts.resetPassword(request.params.token, fields(request))
    if (!result.ok && result.reason === 'weak-password') {
      return reply.problem(
        { status: 400, code: 'invalid_input', message: 'Please choose another password.', fields: result.fields },
        { name: 'reset', data: { title: 'Choose a new password', action: request.url } },
      )
    }
    if (!result.ok) return badLink(reply, result.reason, NEW_LINK)
    // Every session ended with the old password, this one included.
    if (request.sessionToken) await app.closeSession(reply)
    if (request.wantsJson) return reply.send({ password_reset: true })
    return seeOther(reply, '/auth/login?reset=1')
  })
}
