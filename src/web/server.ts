import { createServer, type Server } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from '../logger.ts'
import { BODY_LIMIT, ragtimeApp } from './app.ts'
import type { AppDeps } from './types.ts'

/** A Fastify instance with the app registered, ready to `listen` (or `inject` in tests). */
export async function buildServer(deps: AppDeps, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    bodyLimit: BODY_LIMIT,
    // No log line per request: the app logs what matters (errors, mail) itself.
    logController: new LogController({ disableRequestLogging: true }),
  })
  await app.register(ragtimeApp, deps)
  await app.ready()
  return app
}

/**
 * Listens on HOST:PORT. `localhost` means both loopback addresses, 127.0.0.1 and ::1, whatever
 * /etc/hosts says (it often lists only one). Returns a function that stops listening.
 */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<() => Promise<void>> {
  if (host !== 'localhost') {
    await app.listen({ host, port })
    return () => app.close()
  }
  await app.listen({ host: '127.0.0.1', port })
  const v6: Server = createServer((req, res) => app.routing(req, res))
  const listening = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false)) // no IPv6 loopback here: 127.0.0.1 is enough
    v6.listen({ host: '::1', port }, () => resolve(true))
  })
  return async () => {
    if (listening) await new Promise((resolve) => v6.close(resolve))
    await app.close()
  }
}
