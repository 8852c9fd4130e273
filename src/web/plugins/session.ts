import type {} from '@fastify/cookie'
import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { createSession, endSession, SESSION_LIFETIME_MS, sessionUser } from '../../accounts/index.ts'

export const SESSION_COOKIE = 'ragtime_session'

/**
 * Sessions live in the database (any instance serves any request); the cookie holds a random
 * token whose hash is the session's key. HttpOnly, SameSite=Lax, Secure behind HTTPS.
 */
export const sessions = fp(
  async (app) => {
    const secure = app.deps.config.baseUrl.startsWith('https:')
    app.decorateRequest('user', undefined)
    app.decorateRequest('sessionToken', undefined)
    app.addHook('onRequest', async (request) => {
      const token = request.cookies[SESSION_COOKIE]
      if (!token) return
      const user = await sessionUser(app.deps.db.kysely, token, app.deps.clock.now())
      if (user) {
        request.user = user
        request.sessionToken = token
      }
    })

    /** Starts a fresh session for `userId`, ending the one the request came with (rotation). */
    app.decorate('startSession', async (reply: FastifyReply, userId: number) => {
      const previous = reply.request.sessionToken
      if (previous) await endSession(app.deps.db.kysely, previous)
      const { token } = await createSession(app.deps.db.kysely, userId, app.deps.clock.now())
      reply.setCookie(SESSION_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: SESSION_LIFETIME_MS / 1000,
      })
    })

    app.decorate('closeSession', async (reply: FastifyReply) => {
      const token = reply.request.sessionToken
      if (token) await endSession(app.deps.db.kysely, token)
      reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure })
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
