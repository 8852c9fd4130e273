// Sign-up latency through HTTP: Ragtime's outbox with an instant SMTP server, with one that takes
// 2 s per message, and the same sign-up with the email sent inline, all in one run.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

const here = import.meta.dirname

function start(script: string, args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve) => createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, line })))
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

export interface LatencyResult {
  requests: number
  p50: number
  p99: number
}

async function scenario(name: string, mode: 'outbox' | 'inline', delayMs: number, count: number, work: string): Promise<LatencyResult> {
  const sink = await start('sink.ts', [String(delayMs)])
  const httpPort = 20_000 + Math.floor(Math.random() * 20_000)
  const server = await start('signup-server.ts', [mode, sink.line, String(httpPort), path.join(work, `${name}.sqlite`)])
  const url = `http://127.0.0.1:${httpPort}/auth/register`
  const latencies: number[] = []
  let next = 0
  const concurrency = 4
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++
          const started = performance.now()
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ email: `user${i}@example.test`, username: `user${i}`, password: 'bench password' }),
          })
          await response.arrayBuffer()
          if (response.status !== 202) throw new Error(`${name}: sign-up answered ${response.status}`)
          latencies.push(performance.now() - started)
        }
      }),
    )
  } finally {
    server.child.kill('SIGTERM')
    sink.child.stdin?.end()
    sink.child.kill()
  }
  const result = { requests: count, p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) }
  console.log(`  ${name.padEnd(34)} p50 ${String(result.p50).padStart(5)} ms   p99 ${String(result.p99).padStart(5)} ms   (${count} sign-ups, 4 at a time)`)
  return result
}

export async function signupLatency(count = 200) {
  const work = mkdtempSync(path.join(tmpdir(), 'ragtime-signup-'))
  try {
    console.log('sign-up latency over HTTP:')
    const instant = await scenario('outbox, SMTP answers at once', 'outbox', 0, count, work)
    const slow = await scenario('outbox, SMTP takes 2 s', 'outbox', 2_000, count, work)
    const inline = await scenario('email sent inline, SMTP takes 2 s', 'inline', 2_000, Math.min(count, 40), work)
    const ratio = Number((slow.p99 / instant.p99).toFixed(2))
    console.log(`  outbox p99 with a 2 s server / with an instant one: ${ratio} (target ≤ 1.10)`)
    return { instant, slowSmtp: slow, inline, p99Ratio: ratio }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await signupLatency(Number(process.env.BENCH_SIGNUPS ?? 200))
