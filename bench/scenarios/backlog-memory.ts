// 4. Backlog memory: the peak RSS of a worker process draining a large backlog against one
// draining 1,000 messages; a bounded worker holds the same whatever waits in the queue.
import { newSqliteFile } from '../lib/databases.ts'
import { CONNECTIONS, drainCopy } from '../lib/drain.ts'
import { thousands } from '../lib/format.ts'
import { prepareQueue } from '../lib/prepare-queue.ts'
import { withSink } from '../lib/sink.ts'
import { ratio } from '../lib/stats.ts'
import type { BenchOptions, Scenario } from './scenario.ts'

const SMALL = 1_000
const BIG = 100_000

async function run({ quick }: BenchOptions) {
  if (quick) {
    // Two drains of 100,000 messages take minutes, and a short backlog shows nothing.
    console.log('  skipped in --quick')
    return { rows: [], details: { skipped: '--quick' }, notes: ['Backlog memory: skipped in --quick (it needs minutes).'] }
  }
  return withSink({}, async (sink) => {
    const queues = new Map<number, string>()
    for (const messages of [SMALL, BIG]) {
      const file = newSqliteFile(`backlog-${messages}`)
      await prepareQueue(file, SMALL, messages / SMALL)
      queues.set(messages, file)
    }
    const peakRss = async (messages: number) => {
      const result = await drainCopy(queues.get(messages)!, sink.port)
      console.log(`  ${thousands(messages).padStart(7)} messages: peak RSS ${Math.round(result.maxRssMb)} MB (${thousands(result.rate)}/s)`)
      return { maxRssMb: Math.round(result.maxRssMb), perSecond: Math.round(result.rate) }
    }
    const small = await peakRss(SMALL)
    const big = await peakRss(BIG)
    return {
      rows: [
        {
          scenario: `Peak RSS of a worker draining ${thousands(BIG)} vs ${thousands(SMALL)} queued messages (1 run each)`,
          result: `${thousands(BIG)}: ${big.maxRssMb} MB`,
          baseline: `${thousands(SMALL)}: ${small.maxRssMb} MB`,
          ratio: `×${ratio(big.maxRssMb, small.maxRssMb)}`,
          target: '< 1.3',
        },
      ],
      details: { connections: CONNECTIONS, small: { messages: SMALL, ...small }, big: { messages: BIG, ...big } },
      notes: [],
    }
  })
}

export const backlogMemory: Scenario = { id: 'memory', title: '4. Backlog memory', run }
