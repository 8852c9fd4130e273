import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'
import { METRICS_CHALLENGE, metricsAccess } from '../metrics-access.ts'
import { seeOther } from './helpers.ts'

/** Public files every page may use, read once at start-up. */
const STATIC_FILES = Object.entries({
  'app.css': 'text/css; charset=utf-8',
  'unconfirmed.js': 'text/javascript; charset=utf-8',
}).map(([name, type]) => ({ name, type, body: readFileSync(fileURLToPath(new URL(`../../../public/${name}`, import.meta.url)), 'utf8') }))

/** The home page, the stylesheet, health and metrics. */
export const siteRoutes: FastifyPluginAsync = async (app) => {
  const { db, metrics } = app.deps

  app.get('/', async (request, reply) => {
    if (request.user && !request.user.confirmed) return seeOther(reply, '/auth/unconfirmed')
    const confirmed = (request.query as Record<string, unknown>).confirmed === '1'
    return reply.page('home', { title: 'Ragtime', confirmed })
  })

  for (const file of STATIC_FILES) {
    app.get(`/static/${file.name}`, async (_request, reply) =>
      reply.type(file.type).header('cache-control', 'public, max-age=3600').send(file.body),
    )
  }

  // Health only: counts by state would tell anyone which addresses are being mailed (they are in /metrics).
  app.get('/healthz', async (_request, reply) => {
    try {
      await withTimeout(sql`select 1`.execute(db.kysely), HEALTH_TIMEOUT_MS)
      return reply.send({ status: 'ok', db: 'ok' })
    } catch (err) {
      reply.log.error({ err }, 'health check: database unreachable')
      return reply.code(503).send({ status: 'error', db: 'unreachable' })
    }
  })

  app.get('/metrics', async (request, reply) => {
    const access = metricsAccess(app.deps.config, request.headers.authorization)
    if (access === 'not_found') return reply.callNotFound()
    if (access === 'unauthorized') {
      return reply
        .header('www-authenticate', METRICS_CHALLENGE)
        .problem({ status: 401, code: 'unauthorized', message: 'This needs the metrics token (Authorization: Bearer …).' })
    }
    return reply.type(metrics.contentType).send(await metrics.render())
  })
}

/** A database that does not answer within this is as good as down to a load balancer. */
const HEALTH_TIMEOUT_MS = 3_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
