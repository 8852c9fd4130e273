// The SMTP server every scenario delivers to, in its own process (so it has its own core and
// survives the app being killed). Argument: the delay in ms before each message is answered.
//
// It prints {"port": N} once listening, then answers commands, one JSON object per line on
// stdin, each with an `id` echoed in its reply on stdout:
//   {"op":"mode","mode":"accept"|"tempfail"|"down"}  accept everything | answer 451 4.3.0 |
//                                                    stop listening (connections refused);
//                                                    leaving "down" listens on the same port
//   {"op":"delay","ms":N}                            change the delay
//   {"op":"throttle","perSecond":R}                  answer the end of DATA with 454 4.7.0
//                                                    Throttling failure (as Amazon SES does)
//                                                    while R messages were accepted in the
//                                                    last second (a sliding window); 0: off
//   {"op":"defer","domains":["a.test"]}              answer RCPT TO for those domains with
//                                                    451 4.7.1 Try again later; []: none
//   {"op":"reset"}                                   forget every message so far (and the
//                                                    peak of connections: it starts again
//                                                    from those open now)
//   {"op":"counts"}                                  {offered, accepted, rejected, throttled,
//                                                    deferred (RCPT TO answered 451), bytes
//                                                    (of the messages accepted), connections
//                                                    (open now), peakConnections}
//   {"op":"recipients"}                              {recipients: {address: {count, firstAt}}}
//   {"op":"messageIds"}                              {messageIds: {Message-ID: copies accepted}}
//   {"op":"wait","accepted":N,"timeoutMs":T}         replies once N messages were accepted,
//                                                    with the time of the N-th (epoch ms)
// "Accepted" means answered 250 on a connection that was still open. Times are epoch
// milliseconds with sub-millisecond precision, comparable with the bench's own.
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { SMTPServer } from 'smtp-server'

type Mode = 'accept' | 'tempfail' | 'down'
type Command =
  | { id: number; op: 'mode'; mode: Mode }
  | { id: number; op: 'delay'; ms: number }
  | { id: number; op: 'throttle'; perSecond: number }
  | { id: number; op: 'defer'; domains: string[] }
  | { id: number; op: 'messageIds' }
  | { id: number; op: 'reset' }
  | { id: number; op: 'counts' }
  | { id: number; op: 'recipients' }
  | { id: number; op: 'wait'; accepted: number; timeoutMs: number }

const epochMs = () => performance.timeOrigin + performance.now()

let delayMs = Number(process.argv[2] ?? 0)
let mode: Mode = 'accept'
let port = 0
const ZERO = { offered: 0, accepted: 0, rejected: 0, throttled: 0, deferred: 0, bytes: 0 }
const counts = { ...ZERO }
const recipients = new Map<string, { count: number; firstAt: number }>()
const messageIds = new Map<string, number>()
const waiters: { accepted: number; resolve: (at: number) => void }[] = []
/** TCP connections open now (on any server this process listened with), and the most at once. */
const connections = { open: 0, peak: 0 }
let throttlePerSecond = 0
/** When the messages of the last second were accepted (performance.now()), oldest first, from `recentFrom`. */
const recent: number[] = []
let recentFrom = 0
let deferredDomains = new Set<string>()

/** Whether the throttle refuses a message now: R accepted within the last 1,000 ms. */
function throttled(): boolean {
  if (throttlePerSecond <= 0) return false
  const since = performance.now() - 1_000
  while (recentFrom < recent.length && recent[recentFrom]! <= since) recentFrom++
  if (recentFrom > 10_000) {
    recent.splice(0, recentFrom)
    recentFrom = 0
  }
  return recent.length - recentFrom >= throttlePerSecond
}

/** The Message-ID header in the first bytes of a message (it may be folded onto the next line). */
const messageIdIn = (head: string): string | undefined => /^message-id:\s*(<[^>\r\n]*>)/im.exec(head)?.[1]

function recordAccepted(addresses: readonly string[], messageId: string | undefined, bytes: number): void {
  const at = epochMs()
  counts.accepted++
  counts.bytes += bytes
  if (throttlePerSecond > 0) recent.push(performance.now())
  if (messageId) messageIds.set(messageId, (messageIds.get(messageId) ?? 0) + 1)
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
    onRcptTo(address, _session, callback) {
      if (deferredDomains.size === 0 || !deferredDomains.has(address.address.slice(address.address.lastIndexOf('@') + 1).toLowerCase())) {
        return callback()
      }
      counts.deferred++
      callback(Object.assign(new Error('4.7.1 Try again later'), { responseCode: 451 }))
    },
    onData(stream, session, callback) {
      // The header is kept for the Message-ID (up to 8 KiB of it); the rest is only counted.
      let head = ''
      let headDone = false
      let bytes = 0
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (headDone) return
        const end = chunk.indexOf('\r\n\r\n')
        head += chunk.toString('latin1', 0, end >= 0 ? end : Math.min(chunk.length, 8_192))
        headDone = end >= 0 || head.length >= 8_192
      })
      stream.on('end', () => {
        counts.offered++
        const answer = () => {
          if (current !== server) return callback(new Error('server going down'))
          if (mode === 'tempfail') {
            counts.rejected++
            return callback(Object.assign(new Error('4.3.0 Try again later (bench fault mode)'), { responseCode: 451 }))
          }
          if (throttled()) {
            counts.rejected++
            counts.throttled++
            return callback(Object.assign(new Error('4.7.0 Throttling failure: Maximum sending rate exceeded.'), { responseCode: 454 }))
          }
          recordAccepted(session.envelope.rcptTo.map((r) => r.address), messageIdIn(head), bytes)
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
  server.server.on('connection', (socket: Socket) => {
    connections.open++
    connections.peak = Math.max(connections.peak, connections.open)
    socket.once('close', () => connections.open--)
  })
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
    case 'throttle':
      throttlePerSecond = command.perSecond
      return { throttlePerSecond }
    case 'defer':
      deferredDomains = new Set(command.domains.map((d) => d.toLowerCase()))
      return { deferredDomains: [...deferredDomains] }
    case 'reset':
      Object.assign(counts, ZERO)
      recipients.clear()
      messageIds.clear()
      recent.length = 0
      recentFrom = 0
      connections.peak = connections.open
      return counts
    case 'counts':
      return { ...counts, connections: connections.open, peakConnections: connections.peak }
    case 'recipients':
      return { recipients: Object.fromEntries(recipients) }
    case 'messageIds':
      return { messageIds: Object.fromEntries(messageIds) }
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
