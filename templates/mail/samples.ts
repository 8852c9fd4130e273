/**
 * Sample data for every email template: the dev inbox's previews (/dev/mail/previews) render
 * them, and the template tests render every one, so a template that stops rendering fails a
 * test. A new template without a sample here does not compile.
 */
import type {} from '../../src/accounts/mailers.ts'
import type { Email, TemplateName } from '../../src/mail/index.ts'

const BASE = 'http://localhost:3000'
// Shaped like a real one (43 characters of base64url, 256 bits): nowhere to break a line.
const TOKEN = 'SampleTokenSampleTokenSampleTokenSample0000'

export const MAIL_SAMPLES: { readonly [T in TemplateName]: Email<T> } = {
  'system/test': {
    template: 'system/test',
    to: 'you@example.test',
    subject: 'Test email',
    context: { sentAt: '2026-11-28T12:00:00.000Z', baseUrl: BASE },
  },
  'auth/confirm': {
    template: 'auth/confirm',
    to: 'ann@example.test',
    subject: 'Confirm your account',
    context: { username: 'ann', confirmUrl: `${BASE}/auth/confirm/${TOKEN}`, hours: 48 },
  },
  'auth/already-registered': {
    template: 'auth/already-registered',
    to: 'ann@example.test',
    subject: 'Someone tried to sign up with your address',
    context: { loginUrl: `${BASE}/auth/login`, resetUrl: `${BASE}/auth/reset` },
  },
  'auth/new-user': {
    template: 'auth/new-user',
    to: 'admin@example.test',
    subject: 'New user',
    context: { username: 'ann', email: 'ann@example.test' },
  },
  'auth/reset': {
    template: 'auth/reset',
    to: 'ann@example.test',
    subject: 'Reset your password',
    context: { username: 'ann', resetUrl: `${BASE}/auth/reset/${TOKEN}`, minutes: 60 },
  },
  'auth/password-changed': {
    template: 'auth/password-changed',
    to: 'ann@example.test',
    subject: 'Your password was changed',
    context: { username: 'ann', resetUrl: `${BASE}/auth/reset` },
  },
  'auth/change-email': {
    template: 'auth/change-email',
    to: 'ann@new.example.test',
    subject: 'Confirm your new address',
    context: { username: 'ann', confirmUrl: `${BASE}/auth/change-email/${TOKEN}`, hours: 24 },
  },
  'auth/email-changed': {
    template: 'auth/email-changed',
    to: 'ann@example.test',
    subject: 'Your email address was changed',
    context: { username: 'ann', newEmail: 'ann@new.example.test', undoUrl: `${BASE}/auth/change-email/undo/${TOKEN}`, days: 7 },
  },
}
