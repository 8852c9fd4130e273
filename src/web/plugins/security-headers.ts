import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'

const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/**
 * Headers every answer carries. Links carry tokens, so no Referer ever leaves a page; pages
 * carry sessions, tokens and personal data, so nothing is cached unless a route says otherwise
 * (the static files do). Also used for the answers Fastify makes before any hook runs (a
 * malformed URL), so that those carry the same headers.
 */
export function setSecurityHeaders(reply: FastifyReply, { https }: { https: boolean }): void {
  // A route that frames its own content (the dev inbox) sets a stricter policy of its own.
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
  if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY')
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'no-referrer')
  reply.header('cross-origin-opener-policy', 'same-origin')
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()')
  if (https) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains')
}

export const securityHeaders = fp(
  async (app) => {
    const https = app.deps.config.baseUrl.startsWith('https:')
    app.addHook('onSend', async (_request, reply) => setSecurityHeaders(reply, { https }))
  },
  { name: 'security-headers' },
)
