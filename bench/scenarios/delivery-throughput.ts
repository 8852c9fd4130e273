// 2. Delivery throughput: the outbox worker draining a queue to an SMTP server that answers at
// once, against two baselines that send the same queue's bytes, loaded into memory before their
// timer starts, over the same number of connections to the same sink:
//   (a) nodemailer's pooled transport, `sendMail({ envelope, raw })`, more sends in flight than
//       connections: the best a user can do by hand;
//   (b) Ragtime's own SMTP pool with no database behind it: the limit of what the worker can do.
import { availableParallelism } from 'node:os'
import { newSqliteFile } from '../lib/databases.ts'
import { BASELINE_IN_FLIGHT, CONNECTIONS, type DeliveryRun, drainCopy, nodemailerPool, smtpPoolOnly } from '../lib/drain.ts'
import { runsLabel, thousands, withSpread } from '../lib/format.ts'
import { prepareQueue } from '../lib/prepare-queue.ts'
import { withSink } from '../lib/sink.ts'
import { ratio, summarize } from '../lib/stats.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const SIZES = { full: { messages: 10_000, rounds: 3 }, quick: { messages: 1_000, rounds: 1 } }

interface Party {
  readonly key: 'outbox' | 'nodemailer' | 'pool'
  readonly label: string
  readonly deliver: (queue: string, smtpPort: number) => Promise<DeliveryRun>
}

const PARTIES: readonly Party[] = [
  { key: 'outbox', label: 'outbox', deliver: drainCopy },
  { key: 'nodemailer', label: '(a) nodemailer pool', deliver: nodemailerPool },
  { key: 'pool', label: '(b) Ragtime SMTP pool', deliver: smtpPoolOnly },
]

async function run({ quick }: BenchOptions) {
  const { messages, rounds } = quick ? SIZES.quick : SIZES.full
  const queue = newSqliteFile('queue')
  await prepareQueue(queue, messages)
  const rates = new Map<Party['key'], number[]>(PARTIES.map((p) => [p.key, []]))
  const cpu = new Map<Party['key'], number[]>(PARTIES.map((p) => [p.key, []]))
  await withSink({}, async (sink) => {
    for (let round = 0; round < rounds; round++) {
      // A different party first in each round: this machine is noisy.
      const order = PARTIES.map((_, i) => PARTIES[(i + round) % PARTIES.length]!)
      const line: string[] = []
      for (const party of order) {
        const { rate, cpuUsPerMessage } = await party.deliver(queue, sink.port)
        rates.get(party.key)!.push(rate)
        cpu.get(party.key)!.push(cpuUsPerMessage)
        line.push(`${party.label} ${thousands(rate)}/s`)
      }
      console.log(`  round ${round + 1}  ${line.join(', ')}`)
    }
  })
  const outbox = summarize(rates.get('outbox')!)
  const nodemailer = summarize(rates.get('nodemailer')!)
  const pool = summarize(rates.get('pool')!)
  const vsNodemailer = ratio(outbox.median, nodemailer.median)
  const vsPool = ratio(outbox.median, pool.median)
  const cpuUs = Object.fromEntries(PARTIES.map((p) => [p.key, Math.round(summarize(cpu.get(p.key)!).median)])) as Record<Party['key'], number>
  const sameBytes = `the queue's own bytes from memory, ${BASELINE_IN_FLIGHT} sends in flight`
  return {
    rows: [
      {
        scenario: `Delivery of ${thousands(messages)} queued messages, ${CONNECTIONS} connections, SMTP answering at once (${runsLabel(rounds)})`,
        result: `outbox worker: ${withSpread(outbox, '/s')}`,
        baseline: `(a) nodemailer pooled transport, sendMail({ envelope, raw }), ${sameBytes}: ${withSpread(nodemailer, '/s')}`,
        ratio: `outbox/(a) ×${vsNodemailer}`,
        target: '≥ 1.0',
      },
      {
        scenario: '… the limit: the same bytes through Ragtime’s SMTP pool alone',
        result: 'outbox worker (above)',
        baseline: `(b) Ragtime's SMTP pool, no database, ${sameBytes}: ${withSpread(pool, '/s')}`,
        ratio: `outbox/(b) ×${vsPool}`,
        target: '≥ 0.9',
      },
    ],
    details: {
      messages,
      connections: CONNECTIONS,
      baselineInFlight: BASELINE_IN_FLIGHT,
      rounds,
      outboxPerSecond: outbox,
      nodemailerPoolPerSecond: nodemailer,
      smtpPoolPerSecond: pool,
      outboxVsNodemailer: vsNodemailer,
      outboxVsSmtpPool: vsPool,
      cpuUsPerMessage: cpuUs,
    },
    notes: [
      `Delivery throughput: both baselines send the prepared queue's stored messages (mail_body.raw, envelope_from, recipient), ` +
        `loaded into memory before the timer starts, with ${BASELINE_IN_FLIGHT} sends in flight on ${CONNECTIONS} connections; ` +
        `the outbox worker keeps ${CONNECTIONS} in flight and reads, claims and records every message in SQLite.`,
      // What bounds the ratio to (b) on a small machine: the sink shares its cores.
      `CPU time per message, the delivering process's every thread (median): outbox ${cpuUs.outbox} µs, ` +
        `(a) ${cpuUs.nodemailer} µs, (b) ${cpuUs.pool} µs; the SMTP sink runs on the same ${availableParallelism()} cores.`,
    ],
  }
}

export const deliveryThroughput: Scenario = { id: 'throughput', title: '2. Delivery throughput', run }
