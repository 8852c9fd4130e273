import type { FastifyPluginAsync } from 'fastify'
import { type FieldErrors, publicUser } from '../../accounts/index.ts'
import { addressLimitKey, RATE_RULES } from '../rate-limit.ts'
import { echo, fields, seeOther } from './helpers.ts'

export const loginRoutes: FastifyPluginAsync = async (app) => {
  const { accounts } = app.deps

  app.get('/auth/login', async (request, reply) => {
    const query = request.query as Record<string, unknown>
    return reply.page('login', { title: 'Log in', reset: query.reset === '1' })
  })

  app.post('/auth/login', async (request, reply) => {
    const input = fields(request)
    const page = { name: 'login', data: { title: 'Log in', values: echo(input, ['email']) } }
    // A field left empty is no guess: said as such, and not counted.
    const missing = missingFields(input)
    if (missing) {
      return reply.problem({ status: 400, code: 'invalid_input', message: 'Please correct the fields below.', fields: missing }, page)
    }
    // Every spelling that reaches one account counts as that account.
    const email = addressLimitKey(input.email)
    if (!(await app.limit(reply, RATE_RULES.logInFromIp, request.ip))) return reply
    // Failed log-ins only, but each attempt is counted before the check (a burst in parallel
    // cannot slip past the count) and a successful one is taken back.
    const attempt = await app.limit(reply, RATE_RULES.logIn, `${request.ip}:${email}`)
    if (!attempt) return reply
    // Attempts on one account from anywhere, counted before the check too, and forgotten on
    // success; a browser that logged in to the account before is exempt, so the lock-out never
    // keeps the owner out.
    const knownDevice = app.knowsDevice(request, email)
    if (!knownDevice && !(await app.limit(reply, RATE_RULES.logInAccount, email))) return reply
    const result = await accounts.checkCredentials(input.email, input.password)
    if (!result.ok) {
      return reply.problem({ status: 401, code: 'invalid_credentials', message: 'That address and password do not match an account.' }, page)
    }
    await attempt.takeBack()
    await app.forgetLimit(RATE_RULES.logInAccount, email)
    app.rememberDevice(reply, email)
    await app.startSession(reply, result.user.id)
    if (request.wantsJson) return reply.send(publicUser(result.user))
    return seeOther(reply, result.user.confirmed ? '/' : '/auth/unconfirmed')
  })

  app.post('/auth/logout', async (request, reply) => {
    await app.closeSession(reply)
    if (request.wantsJson) return reply.code(204).send()
    return seeOther(reply, '/')
  })

  app.get('/api/me', async (request, reply) => {
    if (!request.user) return reply.code(401).send({ error: { code: 'not_logged_in', message: 'Log in first.' } })
    return reply.send(publicUser(request.user))
  })
}

/** What is missing from a log-in form, as the sign-up form says it; undefined when both are there. */
function missingFields(input: Record<string, unknown>): FieldErrors | undefined {
  const errors: FieldErrors = {}
  if (typeof input.email !== 'string' || input.email.trim() === '') errors.email = 'Enter your email address.'
  if (typeof input.password !== 'string' || input.password === '') errors.password = 'Enter your password.'
  return Object.keys(errors).length > 0 ? errors : undefined
}
