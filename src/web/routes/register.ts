import type { FastifyPluginAsync } from 'fastify'
import { RATE_RULES } from '../rate-limit.ts'
import { echo, fields, seeOther } from './helpers.ts'

/** Sign-up. Never logs in; an address that has an account gets exactly the same answer. */
export const registerRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps

  app.get('/auth/register', async (_request, reply) => reply.page('register', { title: 'Sign up' }))

  app.post('/auth/register', async (request, reply) => {
    if (!(await app.limit(reply, RATE_RULES.signUp, request.ip))) return reply
    const input = fields(request)
    const result = await accounts.signUp(input)
    const page = { name: 'register', data: { title: 'Sign up', values: echo(input, ['email', 'username']) } }
    if (!result.ok && result.reason === 'invalid') {
      return reply.problem({ status: 400, code: 'invalid_input', message: 'Please correct the fields below.', fields: result.fields }, page)
    }
    if (!result.ok) {
      return reply.problem({ status: 409, code: 'username_taken', message: 'That username is taken.', fields: result.fields }, page)
    }
    if (request.wantsJson) return reply.code(202).send({ status: 'pending_confirmation' })
    return seeOther(reply, '/auth/check-email')
  })

  app.get('/auth/check-email', async (_request, reply) => reply.page('check-email', { title: 'Check your email' }))
}
