// An SMTP sink that accepts every message at once, in its own process so it has its own core.
// Prints its port, then a count on every "count" line read from stdin.
import { createInterface } from 'node:readline'
import { SMTPServer } from 'smtp-server'

let accepted = 0
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => {})
    stream.on('end', () => {
      accepted++
      callback(null, 'ok')
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
