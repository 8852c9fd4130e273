import type {} from '@fastify/cookie'
import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { createSession, endSession, SESSION_LIFETIME_MS, sessionUser } from '../../accounts/index.ts'

/**
 * Behind HTTPS, `__Host-`: the browser then takes it only over HTTPS from this very host, for
 * every path, so a sibling subdomain cannot plant or shadow it.
 */
export const sessionCookieName = (secure: boolean) => (secure ? '__Host-ragtime_session' : 'ragtime_session')

/**
 * Sessions live in the database (any instance serves any request); the cookie holds a random
 * token whose hash is the session's key. HttpOnly, SameSite=Lax, Secure behind HTTPS.
 */
export const sessions = fp(
  async (app) => {
    const secure = app.deps.config.baseUrl.startsWith('https:')
    const cookieName = sessionCookieName(secure)
    app.decorateRequest('user', undefined)
    app.decorateRequest('sessionToken', undefined)
    app.addHook('onRequest', async (request) => {
      const token = request.cookies[cookieName]
      if (!token) return
      const user = await sessionUser(app.deps.db.kysely, token, app.deps.clock.now())
      if (user) {
        request.user = user
        request.sessionToken = token
      }
    })

    /**
     * Starts a fresh session for `userId`, ending the one the request came with (rotation), with
     * a fresh CSRF cookie too (csrf.ts).
     */
    app.decorate('startSession', async (reply: FastifyReply, userId: number) => {
      const previous = reply.request.sessionToken
      if (previous) await endSession(app.deps.db.kysely, previous)
      const { token } = await createSession(app.deps.db.kysely, userId, app.deps.clock.now())
      reply.setCookie(cookieName, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: SESSION_LIFETIME_MS / 1000,
      })
      reply.rotateCsrf()
    })

    app.decorate('closeSession', async (reply: FastifyReply) => {
      const token = reply.request.sessionToken
      if (token) await endSession(app.deps.db.kysely, token)
      reply.clearCookie(cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure })
    })
  },
  { name: 'sessions' },
)

declare module 'fastify' {
  interface FastifyInstance {
    startSession(reply: FastifyReply, userId: number): Promise<void>
    closeSession(reply: FastifyReply): Promise<void>
  }
}
