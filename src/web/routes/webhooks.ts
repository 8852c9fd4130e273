import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { firstUse, type ProviderName, recordWebhookEvents, releaseNonce, webhookProviders } from '../../mail/webhooks/index.ts'
import type { ErrorCode } from '../error-codes.ts'

/**
 * Large enough for an SNS message (256 KiB, escaped once more inside the envelope) and a
 * Postmark bounce carrying the bounced message; anything larger is a 413.
 */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024

/**
 * `POST /webhooks/mail/<provider>`: bounces, delays and complaints from Postmark, Resend, Mailgun
 * and Amazon SES (through SNS), each verified as its provider documents (src/mail/webhooks/).
 * A provider whose secret is not configured answers 404, as if the route did not exist.
 *
 * The CSRF and Origin checks do not apply here (the request is answered in its preValidation
 * hook, before the app's preHandler hooks): a provider sends no cookie and no token (SNS even
 * posts text/plain), and its signature or credentials are the authentication. Every other route
 * keeps them. The body is kept as raw bytes for the signature (this scope's only content-type
 * parser), and nothing touches the database before a request is verified. Unverifiable, stale
 * or replayed: 401. Malformed: 400. A report about a message that is not ours: 200 and a log
 * line (providers retry anything else).
 */
export const webhookRoutes: FastifyPluginAsync = async (app) => {
  const { db, outbox, clock, config } = app.deps
  const providers = webhookProviders(config.webhookSecrets)
  for (const provider of providers.values()) if (provider.warning) app.log.warn({ webhook: provider.name }, provider.warning)

  // This scope's only parser: every content type (SNS posts text/plain), kept as raw bytes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body))

  const refuse = (reply: FastifyReply, status: number, code: ErrorCode, message: string) => reply.problem({ status, code, message })

  async function receive(request: FastifyRequest<{ Params: { provider: string } }>, reply: FastifyReply) {
    const name = request.params.provider as ProviderName
    const provider = providers.get(name)
    // What the app's 404 handler answers: as if the route did not exist.
    if (!provider) return refuse(reply, 404, 'not_found', 'There is no page here.')
    if (!Buffer.isBuffer(request.body)) return refuse(reply, 400, 'bad_payload', 'The body is empty.')

    const now = clock.now()
    const verdict = provider.receive({ body: request.body, headers: request.headers, now })
    const log = request.log.child({ webhook: name })
    if (verdict.outcome === 'rejected') {
      if (verdict.status === 401) log.warn({ code: verdict.code, ip: request.ip, note: verdict.note }, `webhook refused: ${verdict.message}`)
      return refuse(reply, verdict.status, verdict.code, verdict.message)
    }
    if (verdict.outcome === 'subscription') {
      // Confirming is the operator's call: nothing is fetched from a URL in a request.
      log.warn(
        { topicArn: verdict.topicArn, subscribeUrl: verdict.subscribeUrl },
        verdict.type === 'SubscriptionConfirmation'
          ? `SNS asks to confirm the subscription to ${verdict.topicArn}: open the SubscribeURL to confirm it`
          : `SNS says the subscription to ${verdict.topicArn} was removed; open the SubscribeURL to subscribe again`,
      )
      return reply.send({ outcome: 'subscription_pending' })
    }
    // A signed token (or id and timestamp) is good once, whatever the event: Mailgun's signature
    // does not cover the event, so a spent token must not carry another one.
    if (verdict.nonce && !(await firstUse(db, verdict.nonce, provider.nonceWindowMs ?? 0, now))) {
      log.warn({ ip: request.ip }, 'webhook refused: a replay of a request already received')
      return refuse(reply, 401, 'replayed_webhook', 'This signed request was already received.')
    }
    if (verdict.outcome === 'ignored') return reply.send({ outcome: 'ignored' })

    let recorded
    try {
      recorded = await recordWebhookEvents(outbox, db, verdict.events, now)
    } catch (err) {
      // The provider will retry with the same signed request: it must not then look like a replay.
      if (verdict.nonce) await releaseNonce(db, verdict.nonce).catch(() => {})
      throw err
    }
    for (const { report, result } of recorded) {
      if (result.outcome === 'unknown') {
        log.info({ kind: report.kind, eventId: report.eventId, messageId: report.messageId }, `webhook ${report.kind} about a message that is not ours: ignored`)
      } else {
        log.info({ kind: report.kind, eventId: report.eventId, outboxId: result.outboxId, outcome: result.outcome }, `webhook ${report.kind} ${result.outcome}`)
      }
    }
    return reply.send({ outcome: recorded.length === 1 ? recorded[0]?.result.outcome : recorded.map((r) => r.result.outcome) })
  }

  app.route<{ Params: { provider: string } }>({
    method: 'POST',
    url: '/webhooks/mail/:provider',
    bodyLimit: WEBHOOK_BODY_LIMIT,
    // Route hooks run after the app's: errors here are for machines, JSON whatever Accept says.
    onRequest: async (request) => {
      request.wantsJson = true
    },
    // Answered here, before the app's preHandler hooks run: those (CSRF, Origin) are for browsers.
    preValidation: receive,
    // Not reached: preValidation always answers.
    handler: async (_request, reply) => refuse(reply, 500, 'internal_error', 'Something went wrong on our side. Please try again.'),
  })
}
