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
/**
 * V8 sizes its first old-generation collection from the heap limit (about 4 GB by default on a
 * large machine): garbage from a long drain piles up before the first full collection. A limit
 * that suits a worker process shows what the worker really holds.
 */
const CAPPED_HEAP = ['--max-old-space-size=512']

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
    const peakRss = async (messages: number, nodeFlags: readonly string[] = []) => {
      const result = await drainCopy(queues.get(messages)!, sink.port, nodeFlags)
      const flags = nodeFlags.length > 0 ? ` ${nodeFlags.join(' ')}` : ''
      console.log(`  ${thousands(messages).padStart(7)} messages${flags}: peak RSS ${Math.round(result.maxRssMb)} MB (${thousands(result.rate)}/s)`)
      return { maxRssMb: Math.round(result.maxRssMb), perSecond: Math.round(result.rate) }
    }
    const compare = async (nodeFlags: readonly string[] = []) => {
      const small = await peakRss(SMALL, nodeFlags)
      const large = await peakRss(BIG, nodeFlags)
      return { small, big: large, ratio: ratio(large.maxRssMb, small.maxRssMb) }
    }
    const defaultHeap = await compare()
    const cappedHeap = await compare(CAPPED_HEAP)
    return {
      rows: [
        {
          scenario: `Peak RSS of a worker draining ${thousands(BIG)} vs ${thousands(SMALL)} queued messages (1 run each)`,
          result: `${thousands(BIG)}: ${defaultHeap.big.maxRssMb} MB`,
          baseline: `${thousands(SMALL)}: ${defaultHeap.small.maxRssMb} MB`,
          ratio: `×${defaultHeap.ratio}`,
          target: '< 1.3',
        },
        {
          scenario: `… with ${CAPPED_HEAP.join(' ')}`,
          result: `${cappedHeap.big.maxRssMb} MB`,
          baseline: `${cappedHeap.small.maxRssMb} MB`,
          ratio: `×${cappedHeap.ratio}`,
          target: '',
        },
      ],
      details: { small: SMALL, big: BIG, connections: CONNECTIONS, defaultHeap, cappedHeap: { flags: CAPPED_HEAP, ...cappedHeap } },
      notes: [],
    }
  })
}

export const backlogMemory: Scenario = { id: 'memory', title: '4. Backlog memory', run }
