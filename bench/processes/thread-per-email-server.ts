// The slow-provider scenario's baseline: what the Flask lesson does to keep sign-up fast, a new
// thread per email. A plain Node HTTP server whose JSON `POST /auth/register` answers 202 at
// once and then starts `nodemailer.createTransport(...).sendMail(...)` without awaiting it, with
// a new transport (so a new SMTP connection) per email, as a thread with its own `smtplib.SMTP`
// would. No database, no password hashing: the best case for the baseline. A failed send is
// counted and otherwise dropped, as an exception in a thread is printed and forgotten.
// Arguments: SMTP port, HTTP port. Prints "ready" once listening; on SIGTERM prints
// {"sent", "failed", "firstError"} and exits.
import { createServer } from 'node:http'
import nodemailer from 'nodemailer'

const [smtpPort, httpPort] = process.argv.slice(2) as [string, string]
const outcome = { sent: 0, failed: 0, firstError: undefined as string | undefined }

/** About the size of Ragtime's confirmation email (text and HTML parts). */
function confirmation(to: string, username: string) {
  const link = `http://127.0.0.1:${httpPort}/auth/confirm/${'x'.repeat(43)}`
  const text = `Hello ${username},\n\nPlease confirm your email address by opening this link:\n\n${link}\n\nThe link expires in 24 hours. If you did not sign up, ignore this email.\n\n— Ragtime\n`
  const paragraph = (body: string) => `<p style="margin: 0 0 16px; font-family: Helvetica, Arial, sans-serif; font-size: 16px; line-height: 24px; color: #222222;">${body}</p>`
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>Confirm your email</title></head><body style="margin: 0; padding: 24px; background: #f6f6f6;">` +
    `<table role="presentation" width="100%" style="max-width: 560px; margin: 0 auto; background: #ffffff; border: 1px solid #dddddd;"><tr><td style="padding: 24px;">` +
    paragraph(`Hello ${username},`) +
    paragraph(`Please confirm your email address: <a href="${link}" style="color: #0b57d0;">confirm my address</a>.`) +
    paragraph('The link expires in 24 hours. If you did not sign up, ignore this email.') +
    paragraph('— Ragtime') +
    paragraph(`If the button does not work, copy this address into your browser: ${link}`) +
    paragraph('You get this email because someone signed up to Ragtime with this address. We send no other mail until the address is confirmed.') +
    `</td></tr></table></body></html>`
  return { from: 'Ragtime <noreply@ragtime.test>', to, subject: 'Ragtime — Confirm your email address', text, html }
}

function sendInTheBackground(to: string, username: string): void {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(smtpPort), secure: false, ignoreTLS: true })
  transport.sendMail(confirmation(to, username)).then(
    () => outcome.sent++,
    (err: unknown) => {
      outcome.failed++
      outcome.firstError ??= String(err)
    },
  )
}

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/auth/register') {
    response.writeHead(404).end()
    return
  }
  let body = ''
  request.setEncoding('utf8')
  request.on('data', (chunk: string) => (body += chunk))
  request.on('end', () => {
    const { email, username } = JSON.parse(body) as { email: string; username: string }
    response.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"pending"}')
    sendInTheBackground(email, username)
  })
})
server.listen(Number(httpPort), '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify(outcome) + '\n', () => process.exit(0))
})
