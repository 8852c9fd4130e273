// Baseline: a plain loop of pooled nodemailer sendMail calls (MIME built per send), with the
// same connection count and the same message as the outbox sends. Prints {rate}.
import nodemailer from 'nodemailer'
import { createRenderer, MAIL_TEMPLATES_DIR } from '../../src/mail/index.ts'

const [port, count, concurrency] = process.argv.slice(2).map(Number) as [number, number, number]
const rendered = await createRenderer({
  templatesDir: MAIL_TEMPLATES_DIR,
  subjectPrefix: 'Ragtime — ',
  sender: 'Ragtime <noreply@ragtime.test>',
}).render(
  { template: 'system/test', to: 'someone@example.test', subject: 'Bench', context: { sentAt: 'now', baseUrl: 'http://localhost:3000' } },
  new Date(),
)
const transporter = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port,
  ignoreTLS: true,
  maxConnections: concurrency,
  maxMessages: 1000,
})
let next = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      await transporter.sendMail({
        from: 'Ragtime <noreply@ragtime.test>',
        to: `user${i}@example.test`,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
      })
    }
  }),
)
const seconds = (performance.now() - started) / 1000
transporter.close()
process.stdout.write(JSON.stringify({ rate: count / seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n')
