import fp from 'fastify-plugin'

const CLIENT_ERRORS: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'That is more than this form accepts.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    message: 'Send a form (application/x-www-form-urlencoded) or JSON (application/json).',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'bad_request', message: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request', message: 'The request length is wrong.' },
}

/** One error handler: a clear 4xx for what the client sent, a plain 500 (logged) for the rest. */
export const errors = fp(
  async (app) => {
    app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      const status = error.statusCode ?? 500
      if (status >= 400 && status < 500) {
        const known = error.code ? CLIENT_ERRORS[error.code] : undefined
        const code = known?.code ?? (error.code === 'FST_ERR_VALIDATION' ? 'invalid_input' : 'bad_request')
        const message = known?.message ?? (error instanceof SyntaxError ? 'The JSON body is not valid JSON.' : 'The request is not valid.')
        return reply.problem({ status, code, message })
      }
      request.log.error({ err: error, url: request.url, method: request.method }, 'request failed')
      return reply.problem({ status: 500, code: 'internal_error', message: 'Something went wrong on our side. Please try again.' })
    })
    app.setNotFoundHandler((_request, reply) =>
      reply.problem({ status: 404, code: 'not_found', message: 'There is no page here.' }),
    )
  },
  { name: 'errors', dependencies: ['views'] },
)
