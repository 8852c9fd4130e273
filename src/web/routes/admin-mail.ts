import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../accounts/index.ts'
import { formatDuration } from '@ragtime/outbox/lite'
import { COMPLAINT_RATE_WARNING, MAIL_STATES, type MailAction, NOTHING_CHANGED } from '../../mail/index.ts'
import { activityChart } from '../views/activity-chart.ts'
import { fields, requireUser, seeOther } from './helpers.ts'

/** What each action says on its confirmation page and afterwards. */
const ACTIONS = {
  retry: { ask: (t: string) => `Send message ${t} again now?`, done: 'queued again' },
  'retry-dead': { ask: () => 'Send every dead message again now?', done: 'queued again' },
  cancel: { ask: (t: string) => `Cancel message ${t}? It will not be sent.`, done: 'cancelled' },
  unsuppress: { ask: (t: string) => `Remove ${t} from the suppression list? Mail to it will be sent again.`, done: 'removed from the suppression list' },
} as const satisfies Record<MailAction['action'], { ask: (target: string) => string; done: string }>

/**
 * The outbox dashboard (admin only): counts, queue depth and age, the last hour's deliveries and
 * failures, failing and queued mail, the suppression list and the audit log; and the actions on
 * them. A form action first shows a confirmation page; JSON callers act at once.
 */
export const adminMailRoutes: FastifyPluginAsync = async (app) => {
  const { accounts, operations } = app.deps

  function requireAdmin(request: FastifyRequest, reply: FastifyReply): User | undefined {
    const user = requireUser(request, reply)
    if (!user) return undefined
    if (accounts.isAdmin(user)) return user
    reply.problem({ status: 403, code: 'forbidden', message: 'Only the administrator can see this page.' })
    return undefined
  }

  app.get('/admin/mail', async (request, reply) => {
    if (!requireAdmin(request, reply)) return reply
    const overview = await operations.overview()
    // This process's worker's relays, with a fallback relay configured (else none: no line shown).
    const relayList = app.deps.relays()
    if (request.wantsJson) return reply.send(relayList.length > 0 ? { ...overview, relays: relayList } : overview)
    const query = request.query as Record<string, unknown>
    const done = typeof query.done === 'string' && Object.hasOwn(ACTIONS, query.done) ? ACTIONS[query.done as MailAction['action']].done : undefined
    const notice = done && `${Number(query.n) || 0} ${Number(query.n) === 1 ? 'item' : 'items'} ${done}.`
    const chart = activityChart(overview.lastHour)
    return reply.page('admin-mail', {
      title: 'Outbox',
      overview,
      states: MAIL_STATES,
      chart,
      notice,
      formatDuration,
      relays: relayList,
      complaintRateWarning: COMPLAINT_RATE_WARNING,
    })
  })

  async function act(request: FastifyRequest, reply: FastifyReply, action: MailAction | string) {
    const admin = requireAdmin(request, reply)
    if (!admin) return reply
    if (typeof action === 'string') return reply.problem({ status: 400, code: 'invalid_target', message: action })
    // A message that does not exist is said so (as the CLI's "no message N"), not "nothing to do".
    if ('id' in action && !(await app.deps.outbox.get(action.id))) {
      return reply.problem({ status: 404, code: 'not_found', message: `There is no message ${action.id}.` })
    }
    if (!request.wantsJson && fields(request).confirm !== 'yes') {
      const target = 'id' in action ? String(action.id) : action.action === 'unsuppress' ? action.address : ''
      const hidden = action.action === 'unsuppress' ? { address: action.address } : {}
      return reply.page('admin-confirm', { title: 'Please confirm', question: ACTIONS[action.action].ask(target), action: request.url, hidden })
    }
    const affected = await operations.perform(admin.email, action)
    if (request.wantsJson && affected === 0 && action.action !== 'retry-dead') {
      // Recorded all the same: someone tried.
      return reply.problem({ status: 409, code: 'not_applicable', message: `Nothing to ${action.action}: ${NOTHING_CHANGED[action.action]}.` })
    }
    if (request.wantsJson) return reply.send({ action: action.action, affected })
    return seeOther(reply, `/admin/mail?done=${action.action}&n=${affected}`)
  }

  const messageId = (request: FastifyRequest) => {
    const raw = (request.params as { id: string }).id
    return /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : undefined
  }
  const withId = (make: (id: number) => MailAction) => (request: FastifyRequest) => {
    const id = messageId(request)
    return id === undefined ? 'Not a message id.' : make(id)
  }

  const routes: [string, (request: FastifyRequest) => MailAction | string][] = [
    ['/admin/mail/retry-dead', () => ({ action: 'retry-dead' })],
    ['/admin/mail/:id/retry', withId((id) => ({ action: 'retry', id }))],
    ['/admin/mail/:id/cancel', withId((id) => ({ action: 'cancel', id }))],
    [
      '/admin/mail/unsuppress',
      (request) => {
        // As stored: whatever address bounced, so only its shape as one line is checked.
        const address = fields(request).address
        const usable = typeof address === 'string' && /^[^\s\p{Cc}]{3,320}$/u.test(address) && address.includes('@')
        return usable ? { action: 'unsuppress', address } : 'Not an email address.'
      },
    ],
  ]
  for (const [url, parse] of routes) app.post(url, (request, reply) => act(request, reply, parse(request)))
}
