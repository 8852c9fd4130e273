// Delivery throughput of the outbox worker against a plain nodemailer loop, and its peak memory
// draining 100,000 messages against 1,000.
import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { prepareQueue } from './prepare.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000)
const BIG = Number(process.env.BENCH_BIG ?? 100_000)
const CONCURRENCY = 5
const here = import.meta.dirname

interface Result {
  rate: number
  maxRssMb: number
}

function runChild(script: string, args: string[], nodeFlags: string[] = []): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(here, script), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Result) : reject(new Error(`${script} exited ${code}`))))
  })
}

async function startSink(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'sink.ts')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const port = await new Promise<number>((resolve) => lines.once('line', (line) => resolve(Number(line))))
  return { port, child }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

export async function outboxThroughput() {
  const work = mkdtempSync(path.join(tmpdir(), 'ragtime-bench-'))
  const sink = await startSink()
  try {
    console.log(`preparing ${MESSAGES} queued messages…`)
    const template = path.join(work, 'drain.sqlite')
    await prepareQueue(template, MESSAGES)
    const plain: number[] = []
    const outbox: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first: this machine is noisy.
      const order = round % 2 === 0 ? ['plain', 'outbox'] : ['outbox', 'plain']
      for (const which of order) {
        if (which === 'plain') {
          plain.push((await runChild('plain-loop.ts', [String(sink.port), String(MESSAGES), String(CONCURRENCY)])).rate)
        } else {
          const file = path.join(work, `round${round}.sqlite`)
          copyFileSync(template, file)
          outbox.push((await runChild('drain.ts', [file, String(sink.port), String(CONCURRENCY)])).rate)
          rmSync(file)
        }
      }
      console.log(`round ${round + 1}: plain ${plain.at(-1)?.toFixed(0)}/s, outbox ${outbox.at(-1)?.toFixed(0)}/s`)
    }

    console.log(`preparing 1,000 and ${BIG} queued messages for the memory comparison…`)
    const small = path.join(work, 'small.sqlite')
    const big = path.join(work, 'big.sqlite')
    await prepareQueue(small, 1_000)
    await prepareQueue(big, 1_000, BIG / 1_000)
    const smallCopy = path.join(work, 'small-copy.sqlite')
    const bigCopy = path.join(work, 'big-copy.sqlite')
    copyFileSync(small, smallCopy)
    copyFileSync(big, bigCopy)
    const smallRun = await runChild('drain.ts', [small, String(sink.port), String(CONCURRENCY)])
    const bigRun = await runChild('drain.ts', [big, String(sink.port), String(CONCURRENCY)])
    // V8 sizes its first old-generation collection from the heap limit (about 4 GB on this
    // machine): a long drain's garbage reaches ~80 MB before the first full GC. With a limit
    // that suits a worker process the same drain stays near the short one.
    const cappedFlags = ['--max-old-space-size=512']
    const smallCapped = await runChild('drain.ts', [smallCopy, String(sink.port), String(CONCURRENCY)], cappedFlags)
    const bigCapped = await runChild('drain.ts', [bigCopy, String(sink.port), String(CONCURRENCY)], cappedFlags)

    const results = {
      date: new Date().toISOString(),
      node: process.version,
      throughput: {
        messages: MESSAGES,
        concurrency: CONCURRENCY,
        plainPerSecond: plain.map(Math.round),
        outboxPerSecond: outbox.map(Math.round),
        ratio: Number((median(outbox) / median(plain)).toFixed(2)),
      },
      memory: {
        drain1kMaxRssMb: Math.round(smallRun.maxRssMb),
        drain100kMaxRssMb: Math.round(bigRun.maxRssMb),
        ratio: Number((bigRun.maxRssMb / smallRun.maxRssMb).toFixed(2)),
        drain100kPerSecond: Math.round(bigRun.rate),
        withMaxOldSpace512: {
          drain1kMaxRssMb: Math.round(smallCapped.maxRssMb),
          drain100kMaxRssMb: Math.round(bigCapped.maxRssMb),
          ratio: Number((bigCapped.maxRssMb / smallCapped.maxRssMb).toFixed(2)),
        },
      },
    }
    console.log('')
    console.log(`delivery, ${MESSAGES} messages, ${CONCURRENCY} connections (median of ${ROUNDS}):`)
    console.log(`  plain nodemailer loop  ${Math.round(median(plain))}/s`)
    console.log(`  outbox worker          ${Math.round(median(outbox))}/s   ratio ${results.throughput.ratio} (target ≥ 0.9)`)
    console.log(`peak RSS draining 1,000: ${results.memory.drain1kMaxRssMb} MB; ${BIG}: ${results.memory.drain100kMaxRssMb} MB; ratio ${results.memory.ratio} (target < 1.3)`)
    const capped = results.memory.withMaxOldSpace512
    console.log(`  with --max-old-space-size=512: ${capped.drain1kMaxRssMb} MB; ${capped.drain100kMaxRssMb} MB; ratio ${capped.ratio}`)
    return results
  } finally {
    sink.child.stdin?.end()
    sink.child.kill()
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await outboxThroughput()
