// The SMTP server every scenario delivers to, in its own process (so it has its own core and
// survives the app being killed). Argument: the delay in ms before each message is answered.
//
// It prints {"port": N} once listening, then answers commands, one JSON object per line on
// stdin, each with an `id` echoed in its reply on stdout:
//   {"op":"mode","mode":"accept"|"tempfail"|"down"}  accept everything | answer 451 4.3.0 |
//                                                    stop listening (connections refused);
//                                                    leaving "down" listens on the same port
//   {"op":"delay","ms":N}                            change the delay
//   {"op":"reset"}                                   forget every message so far
//   {"op":"counts"}                                  {offered, accepted, rejected}
//   {"op":"recipients"}                              {recipients: {address: {count, firstAt}}}
//   {"op":"wait","accepted":N,"timeoutMs":T}         replies once N messages were accepted,
//                                                    with the time of the N-th (epoch ms)
// "Accepted" means answered 250 on a connection that was still open. Times are epoch
// milliseconds with sub-millisecond precision, comparable with the bench's own.
import { createInterface } from 'node:readline'
import { SMTPServer } from 'smtp-server'

type Mode = 'accept' | 'tempfail' | 'down'
type Command =
  | { id: number; op: 'mode'; mode: Mode }
  | { id: number; op: 'delay'; ms: number }
  | { id: number; op: 'reset' }
  | { id: number; op: 'counts' }
  | { id: number; op: 'recipients' }
  | { id: number; op: 'wait'; accepted: number; timeoutMs: number }

const epochMs = () => performance.timeOrigin + performance.now()

let delayMs = Number(process.argv[2] ?? 0)
let mode: Mode = 'accept'
let port = 0
const counts = { offered: 0, accepted: 0, rejected: 0 }
const recipients = new Map<string, { count: number; firstAt: number }>()
const waiters: { accepted: number; resolve: (at: number) => void }[] = []

function recordAccepted(addresses: readonly string[]): void {
  const at = epochMs()
  counts.accepted++
  for (const address of addresses) {
    const seen = recipients.get(address)
    if (seen) seen.count++
    else recipients.set(address, { count: 1, firstAt: at })
  }
  for (const waiter of waiters.filter((w) => counts.accepted >= w.accepted)) {
    waiters.splice(waiters.indexOf(waiter), 1)
    waiter.resolve(at)
  }
}

function createServer(): SMTPServer {
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    closeTimeout: 50,
    logger: false,
    onData(stream, session, callback) {
      stream.resume()
      stream.on('end', () => {
        counts.offered++
        const answer = () => {
          if (current !== server) return callback(new Error('server going down'))
          if (mode === 'tempfail') {
            counts.rejected++
            return callback(Object.assign(new Error('4.3.0 Try again later (bench fault mode)'), { responseCode: 451 }))
          }
          recordAccepted(session.envelope.rcptTo.map((r) => r.address))
          callback(null, 'ok')
        }
        if (delayMs > 0) setTimeout(answer, delayMs)
        else answer()
      })
    },
  })
  // A client that dies mid-conversation (the crash scenario kills the app) resets its
  // connection: that is the client's failure, not the sink's.
  server.on('error', () => {})
  return server
}

let current: SMTPServer | undefined

function listen(onPort: number): Promise<number> {
  const server = createServer()
  current = server
  return new Promise((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(onPort, '127.0.0.1', () => {
      const address = server.server.address()
      resolve(typeof address === 'object' && address ? address.port : 0)
    })
  })
}

function goDown(): Promise<void> {
  const server = current
  current = undefined
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()))
}

async function setMode(next: Mode): Promise<void> {
  if (next === 'down' && mode !== 'down') await goDown()
  if (next !== 'down' && mode === 'down') await listen(port)
  mode = next
}

async function handle(command: Command): Promise<object> {
  switch (command.op) {
    case 'mode':
      await setMode(command.mode)
      return { mode }
    case 'delay':
      delayMs = command.ms
      return { delayMs }
    case 'reset':
      Object.assign(counts, { offered: 0, accepted: 0, rejected: 0 })
      recipients.clear()
      return counts
    case 'counts':
      return counts
    case 'recipients':
      return { recipients: Object.fromEntries(recipients) }
    case 'wait': {
      if (counts.accepted >= command.accepted) return { accepted: counts.accepted, at: epochMs() }
      const at = await new Promise<number | undefined>((resolve) => {
        const waiter = { accepted: command.accepted, resolve }
        waiters.push(waiter)
        setTimeout(() => {
          const index = waiters.indexOf(waiter)
          if (index >= 0) waiters.splice(index, 1)
          resolve(undefined)
        }, command.timeoutMs).unref()
      })
      if (at === undefined) return { error: `only ${counts.accepted} of ${command.accepted} accepted in ${command.timeoutMs} ms` }
      return { accepted: counts.accepted, at }
    }
  }
}

port = await listen(0)
process.stdout.write(JSON.stringify({ port }) + '\n')
createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command
  handle(command).then(
    (reply) => process.stdout.write(JSON.stringify({ id: command.id, ...reply }) + '\n'),
    (err: unknown) => process.stdout.write(JSON.stringify({ id: command.id, error: String(err) }) + '\n'),
  )
})
process.stdin.on('end', () => process.exit(0))
