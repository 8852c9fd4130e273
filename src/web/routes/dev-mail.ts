import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { devInboxStore } from '../../dev/index.ts'
import type { TemplateName } from '../../mail/index.ts'
import { MAIL_SAMPLES } from '../../../templates/mail/samples.ts'
import { seeOther } from './helpers.ts'

const INBOX_SCRIPT = readFileSync(fileURLToPath(new URL('../../../public/dev-inbox.js', import.meta.url)), 'utf8')

// The HTML part of a caught email runs with no scripts, no plugins and no access to this
// origin; its links may navigate the top window when clicked.
const MAIL_HTML_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; font-src data:; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"

function sendMailHtml(reply: FastifyReply, html: string) {
  return reply
    .header('content-security-policy', MAIL_HTML_POLICY)
    .header('x-frame-options', 'SAMEORIGIN')
    .type('text/html; charset=utf-8')
    .send(`<base target="_top">${html}`)
}

/** `localhost`, `127.0.0.1` or `[::1]`, with or without a port. */
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i

/** Whether a request was addressed to this machine by a loopback name (never another site's). */
export function isLoopbackHost(request: FastifyRequest): boolean {
  // Both the Host header and, behind a trusted proxy, the forwarded host.
  return [request.headers.host, request.host].every((host) => host !== undefined && LOOPBACK_HOST.test(host))
}

/**
 * The dev inbox and the template previews (development without MAIL_SERVER only: not
 * registered otherwise, so every /dev path answers 404 there).
 */
export const devMailRoutes: FastifyPluginAsync = async (app) => {
  const inbox = devInboxStore(app.deps.db)
  const { outbox } = app.deps

  // Only for a loopback Host: a page on another site whose name is made to resolve to 127.0.0.1
  // (DNS rebinding) would otherwise read every caught email, confirmation links included.
  app.addHook('onRequest', async (request, reply) => {
    if (!isLoopbackHost(request)) return reply.callNotFound()
  })

  app.get('/static/dev-inbox.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(INBOX_SCRIPT))

  app.get('/dev/mail', async (_request, reply) => reply.page('dev-inbox', { title: 'Dev inbox', messages: await inbox.list() }))

  app.get('/dev/mail/messages', async (_request, reply) => reply.send(await inbox.list()))

  /** Server-sent events: "mail" whenever the newest message changes (any instance's capture). */
  app.get('/dev/mail/events', (request, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write('retry: 2000\n\n')
    let last = -1
    const tick = async () => {
      try {
        const latest = await inbox.latestId()
        if (latest !== last) {
          if (last !== -1) res.write(`event: mail\ndata: ${latest}\n\n`)
          last = latest
        } else {
          res.write(': idle\n\n')
        }
      } catch (err) {
        request.log.warn({ err }, 'dev inbox events: could not read the inbox')
      }
    }
    void tick()
    const timer = setInterval(() => void tick(), 1_000)
    request.raw.on('close', () => clearInterval(timer))
  })

  app.post('/dev/mail/clear', async (request, reply) => {
    await inbox.clear()
    return request.wantsJson ? reply.code(204).send() : seeOther(reply, '/dev/mail')
  })

  app.get('/dev/mail/previews', async (_request, reply) => {
    const previews = await Promise.all(
      Object.values(MAIL_SAMPLES).map(async (sample) => {
        const mail = await outbox.render(sample)
        return { template: sample.template, subject: mail.subject, to: mail.recipient, text: mail.text }
      }),
    )
    return reply.page('dev-previews', { title: 'Email previews', previews })
  })

  app.get<{ Params: { area: string; name: string } }>('/dev/mail/previews/:area/:name/html', async (request, reply) => {
    const sample = (MAIL_SAMPLES as Record<string, (typeof MAIL_SAMPLES)[TemplateName]>)[`${request.params.area}/${request.params.name}`]
    if (!sample) return reply.problem({ status: 404, code: 'not_found', message: 'There is no such template.' })
    return sendMailHtml(reply, (await outbox.render(sample)).html)
  })

  app.get<{ Params: { id: string } }>('/dev/mail/:id', async (request, reply) => {
    const message = /^\d{1,15}$/.test(request.params.id) ? await inbox.get(Number(request.params.id)) : undefined
    if (!message) return reply.problem({ status: 404, code: 'not_found', message: 'There is no such message.' })
    return reply.page('dev-message', { title: message.subject, message, textHtml: linkify(message.text) })
  })

  app.get<{ Params: { id: string } }>('/dev/mail/:id/html', async (request, reply) => {
    const message = /^\d{1,15}$/.test(request.params.id) ? await inbox.get(Number(request.params.id)) : undefined
    if (!message?.html) return reply.problem({ status: 404, code: 'not_found', message: 'This message has no HTML part.' })
    return sendMailHtml(reply, message.html)
  })
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

/** The text part, escaped, with its http(s) links made clickable. */
export function linkify(text: string): string {
  return text
    .split(/(https?:\/\/[^\s<>"']+)/g)
    .map((part, i) => (i % 2 === 1 ? `<a href="${escapeHtml(part)}">${escapeHtml(part)}</a>` : escapeHtml(part)))
    .join('')
}
