import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ErrorCode } from '../error-codes.ts'
import { setSecurityHeaders } from './security-headers.ts'

const CLIENT_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
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

const BAD_REQUEST = { code: 'bad_request', message: 'This address is not valid.' } as const

/**
 * Fastify's `frameworkErrors`: what it answers itself, before routing and so before any hook or
 * decorator of ours (a malformed URL such as `/%E0%A4%A`). A plain 400 in the problem shape,
 * never echoing the path, with the headers every other answer carries.
 */
export function frameworkErrors({ https }: { https: boolean }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    setSecurityHeaders(reply, { https })
    // 414 for a too-long path segment; anything else it reports here is the client's URL too.
    reply.code(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400)
    if ((request.headers.accept ?? '').includes('application/json')) {
      reply.send({ error: BAD_REQUEST })
      return
    }
    reply
      .type('text/html; charset=utf-8')
      .send(`<!doctype html>\n<html lang="en"><title>Bad request</title><h1>Bad request</h1><p>${BAD_REQUEST.message} <a href="/">Home</a></p></html>\n`)
  }
}
