import fp from 'fastify-plugin'

/** Headers every answer carries. Links carry tokens, so no Referer ever leaves a page. */
export const securityHeaders = fp(
  async (app) => {
    const https = app.deps.config.baseUrl.startsWith('https:')
    app.addHook('onSend', async (_request, reply) => {
      // A route that frames its own content (the dev inbox) sets a stricter policy of its own.
      if (!reply.hasHeader('content-security-policy')) {
        reply.header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
      }
      if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY')
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
      reply.header('cross-origin-opener-policy', 'same-origin')
      reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()')
      if (https) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains')
    })
  },
  { name: 'security-headers' },
)
