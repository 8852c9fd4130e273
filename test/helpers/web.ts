import { after } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { ParsedMail } from 'mailparser'
import { simpleParser } from 'mailparser'
import type { Db } from '../../src/db/index.ts'
import { type Clock, type DeliveryWorker, workerFromConfig } from '../../src/mail/index.ts'
import { appDeps } from '../../src/web/deps.ts'
import { buildServer } from '../../src/web/server.ts'
import type { AppDeps } from '../../src/web/types.ts'
import { silentLogger, testConfig, testDb } from './env.ts'
import { type SinkOptions, type SmtpSink, startSmtpSink } from './smtp-sink.ts'

export const BASE_URL = 'http://localhost:3000'

export interface WebHarness {
  app: FastifyInstance
  deps: AppDeps
  db: Db
  sink: SmtpSink
  worker: DeliveryWorker
  /** A browser-like client: keeps cookies and the last form's CSRF token. */
  client(): Client
  /** The next email to `address` that arrives after `since` messages were accepted. */
  mailTo(address: string, options?: { subject?: RegExp; timeoutMs?: number }): Promise<ParsedMail>
  /** Every accepted message to `address`, parsed. */
  allMailTo(address: string): Promise<ParsedMail[]>
}

/** The app (inject), a real SMTP sink, a real SQLite file, and a running worker. */
export async function webHarness({
  env = {},
  sink: sinkOptions = {},
  clock,
  worker: runWorker = true,
  devInbox = false,
}: {
  env?: Record<string, string>
  sink?: SinkOptions
  clock?: Clock
  worker?: boolean
  /** The app runs as in development with no MAIL_SERVER (so /dev is there); the worker still mails the sink. */
  devInbox?: boolean
} = {}): Promise<WebHarness> {
  const sink = await startSmtpSink(sinkOptions)
  const config = testConfig({
    MAIL_SERVER: '127.0.0.1',
    MAIL_PORT: String(sink.port),
    BASE_URL,
    SECRET_KEY: 'test-secret-key-that-is-long-enough-0123456789',
    RAGTIME_MAIL_SUBJECT_PREFIX: 'Ragtime — ',
    RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>',
    RAGTIME_RATE_LIMITS: 'off',
    RAGTIME_PASSWORD_COST: '12',
    ...env,
  }) as ReturnType<typeof testConfig> & { secretKey: string }
  const db = await testDb(config)
  const deps = appDeps(devInbox ? { ...config, smtp: undefined } : config, db, clock)
  const app = await buildServer(deps, silentLogger)
  const worker = workerFromConfig(config, deps.outbox, silentLogger)
  if (runWorker) worker.start()
  after(async () => {
    await app.close()
    await worker.stop({ graceMs: 0 })
    await sink.close()
    await db.close()
  })

  // Each message is parsed once: mailTo polls, and parsing every earlier message on each poll
  // was most of the CPU of tests that wait for many emails.
  const parsed = new WeakMap<object, Promise<ParsedMail>>()
  const parse = (message: SmtpSink['received'][number]) => {
    let mail = parsed.get(message)
    if (!mail) parsed.set(message, (mail = simpleParser(message.raw)))
    return mail
  }
  const parsedTo = async (address: string) => {
    const all: ParsedMail[] = []
    for (const message of sink.received) {
      if (message.envelope.to.includes(address)) all.push(await parse(message))
    }
    return all
  }

  return {
    app,
    deps,
    db,
    sink,
    worker,
    client: () => new Client(app),
    allMailTo: parsedTo,
    async mailTo(address, { subject, timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = (await parsedTo(address)).filter((m) => !subject || subject.test(m.subject ?? ''))
        const last = found.at(-1)
        if (last) return last
        if (Date.now() > deadline) throw new Error(`no email to ${address}${subject ? ` matching ${subject}` : ''}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
  }
}

export interface TestUser {
  email: string
  username: string
  password: string
}

/** Signs `user` up through `client`, confirms with the emailed link, and returns the client (logged in). */
export async function confirmedUser(h: WebHarness, client: Client, user: TestUser): Promise<Client> {
  await client.json('POST', '/auth/register', user)
  const link = linkIn(await h.mailTo(user.email, { subject: /Confirm your account/ }), undefined, h.deps.config.baseUrl)
  await client.json('POST', link, {})
  return client
}

/** The first link to this app in an email's text part. */
export function linkIn(mail: ParsedMail, path: RegExp = /\/auth\/[^\s]+/, baseUrl = BASE_URL): string {
  const text = mail.text ?? ''
  const match = new RegExp(`${baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(${path.source})`).exec(text)
  if (!match?.[1]) throw new Error(`no link matching ${path} in:\n${text}`)
  return match[1]
}

export class Client {
  readonly #app: FastifyInstance
  readonly cookies = new Map<string, string>()
  csrf = ''

  constructor(app: FastifyInstance) {
    this.#app = app
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const response = await this.#send({ method: 'GET', url, headers })
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1]
    if (token) this.csrf = token
    return response
  }

  /** A form post carrying the CSRF token of the last page (fetching a form first if none). */
  async form(url: string, fields: Record<string, string>, { csrf = true } = {}): Promise<LightMyRequestResponse> {
    if (csrf && !this.csrf) await this.get('/auth/login')
    const body = new URLSearchParams(csrf ? { _csrf: this.csrf, ...fields } : fields).toString()
    return this.#send({
      method: 'POST',
      url,
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  }

  async json(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
    return this.#send({
      method,
      url,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
    })
  }

  async #send(request: {
    method: 'GET' | 'POST'
    url: string
    payload?: string
    headers: Record<string, string>
  }): Promise<LightMyRequestResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const response = await this.#app.inject({
      ...request,
      headers: { ...request.headers, ...(cookie ? { cookie } : {}) },
    })
    for (const c of response.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const cleared = c.value === '' || c.maxAge === 0 || (c.expires && c.expires.getTime() <= Date.now())
      if (cleared) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
    return response
  }
}
