// Baseline (a): the best a user can do by hand with nodemailer. Its pooled transport sends the
// prepared queue's own bytes (`envelope` + `raw`, loaded before the timer starts, so nothing is
// rendered or read from a database while timed), with more sends in flight than connections so
// that no connection waits for the next message. Prints {rate, cpuUsPerMessage, maxRssMb}.
// Arguments: the prepared SQLite file, SMTP port, connections, sends in flight.
import nodemailer from 'nodemailer'
import { loadQueuedMessages, sendAll } from '../lib/queued-messages.ts'

const [file, port, connections, inFlight] = process.argv.slice(2) as [string, string, string, string]
const messages = loadQueuedMessages(file)
const transporter = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port: Number(port),
  ignoreTLS: true,
  maxConnections: Number(connections),
  // As Ragtime's pool: a connection says QUIT after 1,000 messages (nodemailer's default is 100).
  maxMessages: 1000,
})
const timed = await sendAll(messages, Number(inFlight), async ({ raw, envelope }) => {
  const info = await transporter.sendMail({ envelope: { from: envelope.from, to: [...envelope.to] }, raw })
  if (info.accepted.length !== envelope.to.length) throw new Error(`not accepted: ${JSON.stringify(info.rejected)}`)
})
transporter.close()
process.stdout.write(JSON.stringify({ ...timed, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n')
