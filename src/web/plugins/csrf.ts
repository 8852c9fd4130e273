import type {} from '@fastify/cookie'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'

/** Behind HTTPS, `__Host-`: the browser then takes it only from this host, Secure, for every path. */
export const csrfCookieName = (secure: boolean) => (secure ? '__Host-ragtime_csrf' : 'ragtime_csrf')
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Forms: a double-submit token, the HMAC of a random per-browser cookie, in a hidden `_csrf`
 * field. JSON: no token, but the request must be JSON (a cross-site form cannot send it) and an
 * Origin, when present, must be BASE_URL's. The cookie is replaced whenever a session starts
 * (`reply.rotateCsrf()`), so a token planted or read before log-in is void after it.
 */
export const csrf = fp(
  async (app) => {
    const { secretKey, baseUrl } = app.deps.config
    const origin = new URL(baseUrl).origin
    const secure = baseUrl.startsWith('https:')
    const cookieName = csrfCookieName(secure)
    const sign = (value: string) => createHmac('sha256', secretKey).update(`csrf:${value}`).digest('base64url')

    app.decorateRequest('csrfToken', '')
    app.decorateRequest('wantsJson', false)

    /** Sets a new random browser cookie; forms rendered for this answer carry its token. */
    const newBrowserCookie = (reply: FastifyReply) => {
      const browser = randomBytes(32).toString('base64url')
      reply.setCookie(cookieName, browser, { path: '/', httpOnly: true, sameSite: 'lax', secure })
      reply.request.csrfToken = sign(browser)
    }
    app.decorateReply('rotateCsrf', function (this: FastifyReply) {
      newBrowserCookie(this)
    })

    app.addHook('onRequest', async (request, reply) => {
      request.wantsJson = (request.headers.accept ?? '').includes('application/json')
      const browser = request.cookies[cookieName]
      if (!browser || !/^[A-Za-z0-9_-]{43}$/.test(browser)) {
        newBrowserCookie(reply)
        // A fresh cookie cannot vouch for a form that was posted with an older one.
        request.cookies[cookieName] = undefined
        return
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
      const cookie = request.cookies[cookieName]
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

declare module 'fastify' {
  interface FastifyReply {
    /** A new CSRF browser cookie (at log-in): tokens issued before are refused from now on. */
    rotateCsrf(): void
  }
}
