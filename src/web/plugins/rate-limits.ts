import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { countHit, forgetHits, type RateRule, type RateVerdict } from '../rate-limit.ts'

/**
 * `await app.limit(reply, rule, subject)`: counts the hit; false when the limit is reached, and
 * the 429 (with Retry-After) is already sent. `app.forgetLimit` drops a subject's count (a
 * successful log-in forgets the failed ones). RAGTIME_RATE_LIMITS=off lets everything through.
 */
export const rateLimits = fp(
  async (app) => {
    const on = app.deps.config.rateLimits
    const refuse = (reply: FastifyReply, verdict: RateVerdict) => {
      if (verdict.ok) return true
      reply.header('retry-after', String(verdict.retryAfterSeconds))
      reply.problem({
        status: 429,
        code: 'rate_limited',
        message: `Too many attempts. Try again in ${Math.ceil(verdict.retryAfterSeconds / 60)} minute(s).`,
      })
      return false
    }
    app.decorate('limit', async (reply: FastifyReply, rule: RateRule, subject: string) =>
      on ? refuse(reply, await countHit(app.deps.db, rule, subject, app.deps.clock.now())) : true,
    )
    app.decorate('forgetLimit', async (rule: RateRule, subject: string) => {
      if (on) await forgetHits(app.deps.db, rule, subject)
    })
  },
  { name: 'rate-limits', dependencies: ['views'] },
)

declare module 'fastify' {
  interface FastifyInstance {
    limit(reply: FastifyReply, rule: RateRule, subject: string): Promise<boolean>
    forgetLimit(rule: RateRule, subject: string): Promise<void>
  }
}
