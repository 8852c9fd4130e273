import type {} from '@fastify/cookie'
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../accounts/index.ts'

/** The submitted fields, whether they came as a form or as JSON (anything else: none). */
export function fields(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
}

/** Only the text fields worth showing back in a form (never a password). */
export function echo(input: Record<string, unknown>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, typeof input[name] === 'string' ? input[name].slice(0, 300) : '']))
}

/** A POST answered with a page redirects (303) so a reload does not send it again. */
export function seeOther(reply: FastifyReply, location: string) {
  return reply.code(303).header('location', location).send()
}

/**
 * The logged-in user, or an answer already sent: 401 / log-in page when nobody is logged in,
 * 403 / the unconfirmed page when `confirmed` is required and the address is not confirmed.
 */
export function requireUser(
  request: FastifyRequest,
  reply: FastifyReply,
  { confirmed = true }: { confirmed?: boolean } = {},
): User | undefined {
  const user = request.user
  if (!user) {
    if (request.wantsJson) reply.problem({ status: 401, code: 'not_logged_in', message: 'Log in first.' })
    else seeOther(reply, '/auth/login')
    return undefined
  }
  if (confirmed && !user.confirmed) {
    if (request.wantsJson) reply.problem({ status: 403, code: 'unconfirmed', message: 'Confirm your address first.' })
    else seeOther(reply, '/auth/unconfirmed')
    return undefined
  }
  return user
}

/** The page for a link that is expired, used, tampered with or meant for something else. */
export function badLink(reply: FastifyReply, reason: 'invalid' | 'expired', retry: { href: string; label: string }) {
  const message =
    reason === 'expired' ? 'This link has expired.' : 'This link is not valid: it may have been used already or replaced by a newer one.'
  return reply.problem(
    { status: 400, code: reason === 'expired' ? 'expired_token' : 'invalid_token', message },
    { name: 'bad-link', data: { title: 'Link not valid', retry } },
  )
}

/** How long "Check your email" names the address a sign-up was for. */
const SIGNED_UP_LIFETIME_MS = 15 * 60_000

const signedUpCookie = (secure: boolean) => (secure ? '__Host-ragtime_signed_up' : 'ragtime_signed_up')

const signedUpMac = (secretKey: string, payload: string) =>
  createHmac('sha256', secretKey).update(`signed-up:${payload}`).digest('base64url')

/**
 * After an accepted sign-up, keeps the address its requester typed in that browser only, so that
 * "Check your email" can name it: a cookie holding the address and its expiry (15 minutes),
 * HMAC-signed with SECRET_KEY. Set alike whether or not the address had an account, and never
 * filled from anything but what the requester typed, so the page tells nobody anything new.
 */
export function rememberSignedUpAddress(reply: FastifyReply, address: string): void {
  const { config, clock } = reply.server.deps
  const secure = config.baseUrl.startsWith('https:')
  const payload = `${clock.now() + SIGNED_UP_LIFETIME_MS}.${Buffer.from(address).toString('base64url')}`
  reply.setCookie(signedUpCookie(secure), `${payload}.${signedUpMac(config.secretKey, payload)}`, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: SIGNED_UP_LIFETIME_MS / 1000,
  })
}

/** The address this browser's latest sign-up was for, if its cookie is genuine and unexpired. */
export function signedUpAddress(request: FastifyRequest): string | undefined {
  const { config, clock } = request.server.deps
  const [expires, address, mac] = (request.cookies[signedUpCookie(config.baseUrl.startsWith('https:'))] ?? '').split('.')
  if (!expires || !address || !mac) return undefined
  const expected = Buffer.from(signedUpMac(config.secretKey, `${expires}.${address}`))
  const given = Buffer.from(mac)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  if (!(Number(expires) > clock.now())) return undefined
  return Buffer.from(address, 'base64url').toString('utf8')
}
