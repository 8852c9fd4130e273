// 2. Delivery throughput: the outbox worker draining a queue to an SMTP server that answers at
// once, against a plain loop of pooled nodemailer sendMail calls with the same connection count.
import { newSqliteFile } from '../lib/databases.ts'
import { CONNECTIONS, drainCopy, plainLoop } from '../lib/drain.ts'
import { runsLabel, thousands, withSpread } from '../lib/format.ts'
import { prepareQueue } from '../lib/prepare-queue.ts'
import { withSink } from '../lib/sink.ts'
import { ratio, summarize } from '../lib/stats.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const SIZES = { full: { messages: 10_000, rounds: 3 }, quick: { messages: 1_000, rounds: 1 } }

async function run({ quick }: BenchOptions) {
  const { messages, rounds } = quick ? SIZES.quick : SIZES.full
  const queue = newSqliteFile('queue')
  await prepareQueue(queue, messages)
  const plain: number[] = []
  const outbox: number[] = []
  await withSink({}, async (sink) => {
    const runOutbox = async () => outbox.push((await drainCopy(queue, sink.port)).rate)
    const runPlain = async () => plain.push((await plainLoop(messages, sink.port)).rate)
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first: this machine is noisy.
      for (const measure of round % 2 === 0 ? [runPlain, runOutbox] : [runOutbox, runPlain]) await measure()
      console.log(`  round ${round + 1}  plain loop ${thousands(plain.at(-1)!)}/s, outbox ${thousands(outbox.at(-1)!)}/s`)
    }
  })
  const plainRate = summarize(plain)
  const outboxRate = summarize(outbox)
  const throughputRatio = ratio(outboxRate.median, plainRate.median)
  return {
    rows: [
      {
        scenario: `Delivery of ${thousands(messages)} queued messages, ${CONNECTIONS} connections, SMTP answering at once (${runsLabel(rounds)})`,
        result: `outbox worker: ${withSpread(outboxRate, '/s')}`,
        baseline: `plain loop of pooled nodemailer sendMail: ${withSpread(plainRate, '/s')}`,
        ratio: `×${throughputRatio}`,
        target: '≥ 0.9',
      },
    ],
    details: { messages, connections: CONNECTIONS, rounds, outboxPerSecond: outboxRate, plainLoopPerSecond: plainRate, ratio: throughputRatio },
    notes: [],
  }
}

export const deliveryThroughput: Scenario = { id: 'throughput', title: '2. Delivery throughput', run }
