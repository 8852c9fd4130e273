// npm run bench: every measurement against a baseline taken in the same run (this machine is
// noisy, so each compares like with like). BENCH_ONLY=outbox,signup,scale-out picks sections.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { outboxThroughput } from './outbox.ts'
import { scaleOut } from './scale-out.ts'
import { signupLatency } from './signup.ts'

const only = new Set((process.env.BENCH_ONLY ?? 'outbox,signup,scale-out').split(','))
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version }
if (only.has('outbox')) results.outbox = await outboxThroughput()
if (only.has('signup')) results.signup = await signupLatency(Number(process.env.BENCH_SIGNUPS ?? 200))
if (only.has('scale-out')) results.scaleOut = await scaleOut()

const dir = path.join(import.meta.dirname, 'results')
mkdirSync(dir, { recursive: true })
writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n')
console.log(`\nwritten to ${path.relative(process.cwd(), path.join(dir, 'latest.json'))}`)
