import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { MAIL_STATES } from '../../mail/index.ts'
import { requireUser, seeOther } from './helpers.ts'

const STYLESHEET = readFileSync(fileURLToPath(new URL('../../../public/app.css', import.meta.url)), 'utf8')

/** The home page, the stylesheet, health and the admin's outbox page. */
export const siteRoutes: FastifyPluginAsync = async (app) => {
  const { outbox, accounts } = app.deps

  app.get('/', async (request, reply) => {
    if (request.user && !request.user.confirmed) return seeOther(reply, '/auth/unconfirmed')
    const confirmed = (request.query as Record<string, unknown>).confirmed === '1'
    return reply.page('home', { title: 'Ragtime', confirmed })
  })

  app.get('/static/app.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  )

  app.get('/healthz', async (_request, reply) => {
    try {
      const { counts } = await outbox.status()
      return reply.send({ status: 'ok', db: 'ok', outbox: counts })
    } catch (err) {
      reply.log.error({ err }, 'health check: database unreachable')
      return reply.code(503).send({ status: 'error', db: 'unreachable' })
    }
  })

  app.get('/admin/mail', async (request, reply) => {
    const user = requireUser(request, reply)
    if (!user) return reply
    if (!accounts.isAdmin(user)) {
      return reply.problem({ status: 403, code: 'forbidden', message: 'Only the administrator can see this page.' })
    }
    const [status, recent] = await Promise.all([outbox.status(), outbox.list({ limit: 50 })])
    if (request.wantsJson) return reply.send({ counts: status.counts, oldestWaitingMs: status.oldestWaitingMs, recent })
    return reply.page('admin-mail', { title: 'Outbox', status, recent, states: MAIL_STATES })
  })

}
