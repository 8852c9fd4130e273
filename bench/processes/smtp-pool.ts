// Baseline (b), the limit: Ragtime's own SMTP transport (`smtpTransport` of @ragtime/outbox, the pool
// the worker sends through, configured as drain.ts configures it) writing the prepared queue's
// bytes from memory: no database, no claims, no bookkeeping. Its pool queues sends waiting for a
// connection, so more are kept in flight than it has connections. Prints {rate, cpuUsPerMessage, maxRssMb}.
// Arguments: the prepared SQLite file, SMTP port, connections, sends in flight.
import { loadConfig } from '../../src/config/index.ts'
import { smtpTransport } from '../../src/mail/index.ts'
import { loadQueuedMessages, sendAll } from '../lib/queued-messages.ts'

const [file, port, connections, inFlight] = process.argv.slice(2) as [string, string, string, string]
const messages = loadQueuedMessages(file)
const config = loadConfig({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: port, RAGTIME_MAIL_SENDER: 'Ragtime <noreply@ragtime.test>' })
const transport = smtpTransport({ ...config.smtp!, maxConnections: Number(connections) })
const timed = await sendAll(messages, Number(inFlight), (mail) => transport.send(mail))
transport.close()
process.stdout.write(JSON.stringify({ ...timed, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n')
