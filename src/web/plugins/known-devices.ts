import type {} from '@fastify/cookie'
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

const YEAR_S = 365 * 86_400

/**
 * Known devices (OWASP's "device cookies"): a browser that once logged in to an account gets a
 * cookie, the HMAC of the account's address key, that exempts it from the limits an attacker
 * could otherwise use to keep the owner out: the account's lock-out after failed log-ins, and
 * the per-address limit and mail budget of password resets. It grants nothing else, and only a
 * successful log-in (so, the password) gets one.
 */
export const knownDevices = fp(
  async (app) => {
    const { secretKey, baseUrl } = app.deps.config
    const secure = baseUrl.startsWith('https:')
    const cookieName = secure ? '__Host-ragtime_device' : 'ragtime_device'
    const mark = (addressKey: string) => createHmac('sha256', secretKey).update(`device:${addressKey}`).digest('base64url')

    app.decorate('knowsDevice', (request: FastifyRequest, addressKey: string) => {
      const given = request.cookies[cookieName]
      if (!given || addressKey === '') return false
      const expected = Buffer.from(mark(addressKey))
      const actual = Buffer.from(given)
      return actual.length === expected.length && timingSafeEqual(actual, expected)
    })
    app.decorate('rememberDevice', (reply: FastifyReply, addressKey: string) => {
      reply.setCookie(cookieName, mark(addressKey), { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: YEAR_S })
    })
  },
  { name: 'known-devices' },
)

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether this browser logged in to the account with this address key before. */
    knowsDevice(request: FastifyRequest, addressKey: string): boolean
    rememberDevice(reply: FastifyReply, addressKey: string): void
  }
}
