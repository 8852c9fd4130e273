import { fileURLToPath } from 'node:url'
import { Eta } from 'eta'
import fp from 'fastify-plugin'
import { publicUser } from '../../accounts/index.ts'
import type { Problem } from '../types.ts'

export const PAGES_DIR = fileURLToPath(new URL('../../../templates/pages', import.meta.url))

/** Server-rendered pages (Eta, auto-escaped) and one way to answer an error. */
export const views = fp(
  async (app) => {
    const eta = new Eta({ views: PAGES_DIR, autoEscape: true, cache: true })
    app.decorateReply('page', function (name: string, data: Record<string, unknown> = {}, status = 200) {
      const request = this.request
      const user = request.user
      const html = eta.render(`${name}.html`, {
        title: 'Ragtime',
        errors: {},
        values: {},
        ...data,
        csrf: request.csrfToken,
        user: user ? publicUser(user) : undefined,
        isAdmin: app.deps.accounts.isAdmin(user),
      })
      return this.code(status).type('text/html; charset=utf-8').send(html)
    })
    app.decorateReply('problem', function (problem: Problem, page?: { name: string; data?: Record<string, unknown> }) {
      if (this.request.wantsJson) return this.code(problem.status).send({ error: errorBody(problem) })
      if (page) {
        return this.page(page.name, { ...page.data, errors: problem.fields ?? {}, message: problem.message }, problem.status)
      }
      return this.page('error', { title: problem.message, problem }, problem.status)
    })
  },
  { name: 'views' },
)

function errorBody({ code, message, fields }: Problem) {
  return fields ? { code, message, fields } : { code, message }
}
