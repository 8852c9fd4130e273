import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { countHit, forgetHits, type RateRule, type RateVerdict, takeBackHit } from '../rate-limit.ts'

/** A hit `app.limit` counted and let through; `takeBack()` un-counts it once its outcome is known. */
export interface CountedHit {
  takeBack(): Promise<void>
}

const NOT_COUNTED: CountedHit = Object.freeze({ takeBack: async () => {} })

/**
 * `await app.limit(reply, rule, subject)`: counts the hit; false when the limit is reached, and
 * the 429 (with Retry-After) is already sent; otherwise the counted hit, which a route takes back
 * when the attempt turns out not to be what the rule counts (a successful log-in, a sign-up that
 * was not accepted). `app.forgetLimit` drops a subject's count (a successful log-in forgets the
 * failed ones). RAGTIME_RATE_LIMITS=off lets everything through.
 */
export const rateLimits = fp(
  async (app) => {
    const on = app.deps.config.rateLimits
    const refuse = (reply: FastifyReply, verdict: Extract<RateVerdict, { ok: false }>) => {
      reply.header('retry-after', String(verdict.retryAfterSeconds))
      reply.problem({
        status: 429,
        code: 'rate_limited',
        message: `Too many attempts. Try again in ${Math.ceil(verdict.retryAfterSeconds / 60)} minute(s).`,
      })
      return false as const
    }
    app.decorate('limit', async (reply: FastifyReply, rule: RateRule, subject: string): Promise<false | CountedHit> => {
      if (!on) return NOT_COUNTED
      const verdict = await countHit(app.deps.db, rule, subject, app.deps.clock.now())
      if (!verdict.ok) return refuse(reply, verdict)
      return { takeBack: () => takeBackHit(app.deps.db, rule, subject, verdict.windowStart) }
    })
    app.decorate('forgetLimit', async (rule: RateRule, subject: string) => {
      if (on) await forgetHits(app.deps.db, rule, subject)
    })
  },
  { name: 'rate-limits', dependencies: ['views'] },
)

declare module 'fastify' {
  interface FastifyInstance {
    limit(reply: FastifyReply, rule: RateRule, subject: string): Promise<false | CountedHit>
    forgetLimit(rule: RateRule, subject: string): Promise<void>
  }
}
