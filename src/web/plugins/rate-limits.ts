import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { countHit, type RateRule } from '../rate-limit.ts'

/**
 * `await app.limit(reply, rule, subject)`: false when the limit is reached, and the 429 (with
 * Retry-After) is already sent. RAGTIME_RATE_LIMITS=off lets everything through.
 */
export const rateLimits = fp(
  async (app) => {
    app.decorate('limit', async (reply: FastifyReply, rule: RateRule, subject: string) => {
      if (!app.deps.config.rateLimits) return true
      const verdict = await countHit(app.deps.db, rule, subject, app.deps.clock.now())
      if (verdict.ok) return true
      reply.header('retry-after', String(verdict.retryAfterSeconds))
      reply.problem({
        status: 429,
        code: 'rate_limited',
        message: `Too many attempts. Try again in ${Math.ceil(verdict.retryAfterSeconds / 60)} minute(s).`,
      })
      return false
    })
  },
  { name: 'rate-limits', dependencies: ['views'] },
)

declare module 'fastify' {
  interface FastifyInstance {
    limit(reply: FastifyReply, rule: RateRule, subject: string): Promise<boolean>
  }
}
