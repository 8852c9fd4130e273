import type { FastifyPluginAsync } from 'fastify'
import { RATE_RULES } from '../rate-limit.ts'
import { badLink, echo, fields, requireUser, seeOther } from './helpers.ts'

/** Change of address: re-enter the password, the new address confirms, the old one may undo. */
export const changeEmailRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps
  const settings = { href: '/auth/change-email', label: 'Change your address again' }

  app.get('/auth/change-email', async (request, reply) => {
    if (!requireUser(request, reply)) return reply
    const sent = (request.query as Record<string, unknown>).sent === '1'
    return reply.page('change-email', { title: 'Change your email address', sent })
  })

  app.post('/auth/change-email', async (request, reply) => {
    const user = requireUser(request, reply)
    if (!user) return reply
    // Each request mails an address the user chooses: a few an hour (and the address's budget).
    if (!(await app.limit(reply, RATE_RULES.changeEmail, `user:${user.id}`))) return reply
    const input = fields(request)
    const result = await accounts.requestEmailChange(user, input)
    if (!result.ok) {
      return reply.problem(
        {
          status: result.reason === 'wrong-password' ? 403 : 400,
          code: result.reason === 'wrong-password' ? 'wrong_password' : 'invalid_input',
          message: 'Please correct the fields below.',
          fields: result.fields,
        },
        { name: 'change-email', data: { title: 'Change your email address', values: echo(input, ['email']) } },
      )
    }
    if (request.wantsJson) return reply.code(202).send({ status: 'pending_confirmation' })
    return seeOther(reply, '/auth/change-email?sent=1')
  })

  for (const [path, purpose] of [
    ['/auth/change-email/undo/:token', 'undo-email'],
    ['/auth/change-email/:token', 'change-email'],
  ] as const) {
    const undo = purpose === 'undo-email'
    const title = undo ? 'Undo the change of address' : 'Confirm your new address'

    app.get<{ Params: { token: string } }>(path, async (request, reply) => {
      const check = await accounts.previewEmailToken(request.params.token, purpose)
      if (!check.ok) return badLink(reply, check.reason, settings)
      return reply.page('change-email-confirm', { title, undo, email: check.token.email, action: request.url })
    })

    app.post<{ Params: { token: string } }>(path, async (request, reply) => {
      const token = request.params.token
      const result = undo ? await accounts.undoEmailChange(token) : await accounts.confirmEmailChange(token)
      if (!result.ok) {
        if (result.reason !== 'address-taken') return badLink(reply, result.reason, settings)
        return reply.problem({ status: 409, code: 'address_taken', message: 'That address now belongs to another account.' })
      }
      if (undo && request.sessionToken) await app.closeSession(reply)
      if (request.wantsJson) return reply.send({ email_changed: true, email: result.user.email })
      return reply.page('message', {
        title: undo ? 'Your address is back' : 'Your address is changed',
        message: undo
          ? `Your account uses ${result.user.email} again, and every session was logged out. If someone else changed it, reset your password now.`
          : `Your account now uses ${result.user.email}.`,
        next: undo ? { href: '/auth/reset', label: 'Reset your password' } : { href: '/', label: 'Continue' },
      })
    })
  }
}
