import type { FastifyPluginAsync } from 'fastify'
import { normalizeAddress } from '../../lib/email-address.ts'
import { RATE_RULES } from '../rate-limit.ts'
import { echo, fields, rememberSignedUpAddress, seeOther, signedUpAddress } from './helpers.ts'

/** Sign-up. Never logs in; an address that has an account gets exactly the same answer. */
export const registerRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps

  app.get('/auth/register', async (_request, reply) => reply.page('register', { title: 'Sign up' }))

  app.post('/auth/register', async (request, reply) => {
    // Both counted before the sign-up runs, so a burst in parallel cannot slip past either, and
    // taken back after when the attempt was not what they count: a typo counts for nothing, a
    // taken username only as work (its password was hashed).
    const work = await app.limit(reply, RATE_RULES.signUpFromIp, request.ip)
    if (!work) return reply
    const accepted = await app.limit(reply, RATE_RULES.signUp, request.ip)
    if (!accepted) {
      await work.takeBack()
      return reply
    }
    const input = fields(request)
    const result = await accounts.signUp(input)
    if (!result.ok) {
      await accepted.takeBack()
      if (result.reason === 'invalid') await work.takeBack()
      const page = { name: 'register', data: { title: 'Sign up', values: echo(input, ['email', 'username']) } }
      if (result.reason === 'invalid') {
        return reply.problem({ status: 400, code: 'invalid_input', message: 'Please correct the fields below.', fields: result.fields }, page)
      }
      // The page says it once, beside the field; JSON, which has no page, in its message too.
      const message = request.wantsJson ? 'That username is taken.' : 'Please correct the fields below.'
      return reply.problem({ status: 409, code: 'username_taken', message, fields: result.fields }, page)
    }
    if (request.wantsJson) return reply.code(202).send({ status: 'pending_confirmation' })
    const typed = normalizeAddress(input.email)
    if (typed.ok) rememberSignedUpAddress(reply, typed.address)
    return seeOther(reply, '/auth/check-email')
  })

  app.get('/auth/check-email', async (request, reply) =>
    reply.page('check-email', { title: 'Check your email', email: signedUpAddress(request) }),
  )
}
