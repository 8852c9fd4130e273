// An SMTP sink in its own process (so it has its own core) that accepts every message, at once
// or after `delayMs` (first argument). Prints its port, then a count on every "count" line.
import { createInterface } from 'node:readline'
import { SMTPServer } from 'smtp-server'

const delayMs = Number(process.argv[2] ?? 0)
let accepted = 0
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => {})
    stream.on('end', () => {
      const accept = () => {
        accepted++
        callback(null, 'ok')
      }
      if (delayMs > 0) setTimeout(accept, delayMs)
      else accept()
    })
  },
})
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address()
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`)
})
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'count') process.stdout.write(`${accepted}\n`)
})
process.stdin.on('end', () => process.exit(0))
