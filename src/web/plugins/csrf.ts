import type {} from '@fastify/cookie'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'

const CSRF_COOKIE = 'ragtime_csrf'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Forms: a double-submit token, the HMAC of a random per-browser cookie, in a hidden `_csrf`
 * field. JSON: no token, but the request must be JSON (a cross-site form cannot send it) and an
 * Origin, when present, must be BASE_URL's.
 */
export const csrf = fp(
  async (app) => {
    const { secretKey, baseUrl } = app.deps.config
    const origin = new URL(baseUrl).origin
    const secure = baseUrl.startsWith('https:')
    const sign = (value: string) => createHmac('sha256', secretKey).update(`csrf:${value}`).digest('base64url')

    app.decorateRequest('csrfToken', '')
    app.decorateRequest('wantsJson', false)

    app.addHook('onRequest', async (request, reply) => {
      request.wantsJson = (request.headers.accept ?? '').includes('application/json')
      let browser = request.cookies[CSRF_COOKIE]
      if (!browser || !/^[A-Za-z0-9_-]{43}$/.test(browser)) {
        browser = randomBytes(32).toString('base64url')
        reply.setCookie(CSRF_COOKIE, browser, { path: '/', httpOnly: true, sameSite: 'lax', secure })
        // A fresh cookie cannot vouch for a form that was posted with an older one.
        request.cookies[CSRF_COOKIE] = undefined
      }
      request.csrfToken = sign(browser)
    })

    app.addHook('preHandler', async (request, reply) => {
      if (SAFE_METHODS.has(request.method)) return
      const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
      if (type === 'application/json') {
        const from = request.headers.origin
        if (from !== undefined && from !== origin) {
          return reply.problem({ status: 403, code: 'bad_origin', message: 'Requests from other sites are refused.' })
        }
        return
      }
      const sent = (request.body as Record<string, unknown> | undefined)?._csrf
      const cookie = request.cookies[CSRF_COOKIE]
      const expected = cookie ? Buffer.from(sign(cookie)) : undefined
      const given = typeof sent === 'string' ? Buffer.from(sent) : undefined
      if (!expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.problem({
          status: 403,
          code: 'bad_csrf_token',
          message: 'This form has expired. Go back, reload the page and try again.',
        })
      }
    })
  },
  { name: 'csrf', dependencies: ['views'] },
)
