import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import fp from 'fastify-plugin'
import { csrf } from './plugins/csrf.ts'
import { errors } from './plugins/errors.ts'
import { knownDevices } from './plugins/known-devices.ts'
import { rateLimits } from './plugins/rate-limits.ts'
import { securityHeaders } from './plugins/security-headers.ts'
import { sessions } from './plugins/session.ts'
import { views } from './plugins/views.ts'
import { adminMailRoutes } from './routes/admin-mail.ts'
import { changeEmailRoutes } from './routes/change-email.ts'
import { confirmRoutes } from './routes/confirm.ts'
import { devMailRoutes } from './routes/dev-mail.ts'
import { loginRoutes } from './routes/login.ts'
import { registerRoutes } from './routes/register.ts'
import { resetRoutes } from './routes/reset.ts'
import { siteRoutes } from './routes/site.ts'
import { webhookRoutes } from './routes/webhooks.ts'
import type { AppDeps } from './types.ts'

export type { AppDeps } from './types.ts'

/**
 * The Ragtime web app as a Fastify plugin: infrastructure first (cookies, forms, views, errors,
 * security headers, sessions, CSRF, rate limits), then the routes. The server is a thin runner.
 */
export const ragtimeApp = fp<AppDeps>(
  async (app, deps) => {
    app.decorate('deps', deps)
    await app.register(cookie)
    await app.register(formbody, { bodyLimit: BODY_LIMIT })
    // Forms and JSON only: anything else is a 415, not a string body for the handlers to guess at.
    app.removeContentTypeParser('text/plain')
    await app.register(views)
    await app.register(errors)
    await app.register(securityHeaders)
    await app.register(sessions)
    await app.register(csrf)
    await app.register(rateLimits)
    await app.register(knownDevices)
    for (const routes of [siteRoutes, registerRoutes, confirmRoutes, loginRoutes, resetRoutes, changeEmailRoutes, adminMailRoutes, webhookRoutes]) {
      await app.register(routes)
    }
    // The dev inbox shows what the dev SMTP server caught: only in development with no
    // MAIL_SERVER (there is nothing for it to show otherwise). Everywhere else every /dev path is
    // a plain 404.
    if (!deps.config.production && !deps.config.smtp) await app.register(devMailRoutes)
  },
  { name: 'ragtime' },
)

/** No form of ours needs more; a larger body is a clear 413, not a slow parse. */
export const BODY_LIMIT = 64 * 1024
