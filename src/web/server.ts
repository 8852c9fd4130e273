import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { TrustedProxies } from '../config/index.ts'
import type { Logger } from '../logger.ts'
import { BODY_LIMIT, ragtimeApp } from './app.ts'
import { frameworkErrors } from './plugins/errors.ts'
import type { AppDeps } from './types.ts'

/** How long a client may take, and how many may be connected at once (per listening socket). */
export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this. */
  readonly requestTimeoutMs: number
  /** The headers must arrive within this. At most `requestTimeoutMs`. */
  readonly headersTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number
  /** A connection on which nothing moves, either way, for this long is closed. */
  readonly idleTimeoutMs: number
  /** Connections beyond this are closed as they arrive. */
  readonly maxConnections: number
  /**
   * How often Node looks for requests over their time (its default, 30 s, would let a slow body
   * live well past `requestTimeoutMs`).
   */
  readonly checkIntervalMs: number
}

/** Production limits: generous for a person on a slow phone, short for a client that stalls on purpose. */
export const HTTP_LIMITS: HttpLimits = Object.freeze({
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxConnections: 1_000,
  checkIntervalMs: 1_000,
})

const limitsOf = new WeakMap<FastifyInstance, HttpLimits>()

/** A Fastify instance with the app registered, ready to `listen` (or `inject` in tests). */
export async function buildServer(deps: AppDeps, logger: Logger, limits: Partial<HttpLimits> = {}): Promise<FastifyInstance> {
  const http = { ...HTTP_LIMITS, ...limits }
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: proxyTrust(deps.config.trustProxy),
    bodyLimit: BODY_LIMIT,
    http: nodeServerOptions(http),
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionTimeout: http.idleTimeoutMs,
    frameworkErrors: frameworkErrors({ https: deps.config.baseUrl.startsWith('https:') }),
    // No log line per request: the app logs what matters (errors, mail) itself.
    logController: new LogController({ disableRequestLogging: true }),
  })
  // Fastify has no option for this one.
  app.server.maxConnections = http.maxConnections
  limitsOf.set(app, http)
  await app.register(ragtimeApp, deps)
  await app.ready()
  return app
}

/**
 * RAGTIME_TRUST_PROXY as Fastify wants it. A hop count becomes a function because Fastify
 * ignores a bare number (it cannot tell a proxy from a client that reached the app directly):
 * with N proxies in front, the N nearest hops are theirs and the address before them is the
 * client's, whatever the client wrote further left.
 */
function proxyTrust(trust: TrustedProxies): false | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return [...trust]
}

function nodeServerOptions(limits: HttpLimits): ServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  }
}

/** A bare Node HTTP server with `limits` applied (the second loopback listener, the worker's metrics port). */
export function limitedHttpServer(listener: RequestListener, limits: HttpLimits = HTTP_LIMITS): Server {
  const server = createServer(nodeServerOptions(limits), listener)
  server.setTimeout(limits.idleTimeoutMs)
  server.maxConnections = limits.maxConnections
  return server
}

/**
 * Listens on HOST:PORT. `localhost` means both loopback addresses, 127.0.0.1 and ::1, whatever
 * /etc/hosts says (it often lists only one). Returns a function that stops listening. A port in
 * use, on either address, rejects with Node's EADDRINUSE error (its `address` and `port` say where).
 */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<() => Promise<void>> {
  if (host !== 'localhost') {
    await app.listen({ host, port })
    return () => app.close()
  }
  await app.listen({ host: '127.0.0.1', port })
  // The same port as 127.0.0.1 got (PORT=0 means any free one), and the same limits.
  const v4 = app.server.address()
  const v6 = limitedHttpServer((req, res) => app.routing(req, res), limitsOf.get(app))
  const listening = await new Promise<boolean>((resolve, reject) => {
    v6.once('error', (err: NodeJS.ErrnoException) => {
      // Another program on [::1]:PORT would answer everyone whose localhost is ::1.
      if (err.code === 'EADDRINUSE') app.close().then(() => reject(err), reject)
      else resolve(false) // no IPv6 loopback here: 127.0.0.1 is enough
    })
    v6.listen({ host: '::1', port: typeof v4 === 'object' && v4 ? v4.port : port }, () => resolve(true))
  })
  return async () => {
    if (listening) await new Promise((resolve) => v6.close(resolve))
    await app.close()
  }
}
