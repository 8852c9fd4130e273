// npm run bench [-- --quick] [-- --only signup,crash]: every scenario against a baseline taken
// in the same run, each party in its own process. Prints a table, writes bench/results/latest.json.
// Never fails on a number; exits non-zero only if a scenario could not run.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { dropPostgresDatabases, removeWorkDir } from './lib/databases.ts'
import { describeMachine } from './lib/machine.ts'
import { killAllChildren } from './lib/processes.ts'
import { machineLine, markdownTable } from './lib/report.ts'
import { backlogMemory } from './scenarios/backlog-memory.ts'
import { crash } from './scenarios/crash.ts'
import { deliveryThroughput } from './scenarios/delivery-throughput.ts'
import { deferringDomain } from './scenarios/deferring-domain.ts'
import { enqueueLatency } from './scenarios/enqueue-latency.ts'
import { failover } from './scenarios/failover.ts'
import { lanes } from './scenarios/lanes.ts'
import type { ReportRow, Scenario, ScenarioReport } from './scenarios/scenario.ts'
import { scaleOut } from './scenarios/scale-out.ts'
import { signupLatency } from './scenarios/signup-latency.ts'
import { slowProvider } from './scenarios/slow-provider.ts'
import { smtpOutage } from './scenarios/smtp-outage.ts'
import { throttle } from './scenarios/throttle.ts'

const SCENARIOS: readonly Scenario[] = [signupLatency, deliveryThroughput, enqueueLatency, backlogMemory, crash, smtpOutage, scaleOut, lanes, slowProvider, throttle, deferringDomain, failover]

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } })
const only = values.only?.split(',').map((id) => id.trim())
const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? []
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.map((s) => s.id).join(', ')}`)
  process.exit(2)
}
// Users run the compiled app (`npm start` builds it first): build it from the sources as they
// are now, so that bin/ragtime.js runs dist/ rather than the sources through tsx.
if (spawnSync(process.execPath, [path.join(import.meta.dirname, '../scripts/build.mjs')], { stdio: 'inherit' }).status !== 0) {
  console.error('the build (npm run build) failed')
  process.exit(1)
}
const selected = SCENARIOS.filter((s) => !only || only.includes(s.id))
const flags = [...(values.quick ? ['--quick'] : []), ...(only ? [`--only ${only.join(',')}`] : [])]
const command = ['npm run bench', ...(flags.length > 0 ? ['--', ...flags] : [])].join(' ')

async function cleanUp(): Promise<void> {
  killAllChildren()
  removeWorkDir()
  await dropPostgresDatabases()
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)))
}
// Even if the bench itself crashes: no process or file is left behind (schemas need the loop).
process.once('exit', () => {
  killAllChildren()
  removeWorkDir()
})

const machine = describeMachine()
const date = new Date()
const started = performance.now()
const reports: Record<string, (ScenarioReport & { title: string }) | { title: string; error: string }> = {}
console.log(`Ragtime benchmarks${values.quick ? ' (--quick: fewer messages and runs, a first look)' : ''}`)
console.log(machineLine(machine, date, command))
try {
  for (const scenario of selected) {
    console.log(`\n${scenario.title}`)
    const scenarioStarted = performance.now()
    try {
      reports[scenario.id] = { title: scenario.title, ...(await scenario.run({ quick: values.quick })) }
    } catch (err) {
      console.error(`  FAILED: ${(err as Error).stack ?? String(err)}`)
      reports[scenario.id] = { title: scenario.title, error: String(err) }
    }
    console.log(`  (${((performance.now() - scenarioStarted) / 1000).toFixed(0)} s)`)
  }
} finally {
  await cleanUp()
}

const rows: ReportRow[] = Object.values(reports).flatMap((r) => ('rows' in r ? r.rows : []))
const notes = Object.values(reports).flatMap((r) => ('notes' in r ? r.notes : []))
const failed = Object.entries(reports).filter(([, r]) => 'error' in r).map(([id]) => id)
const durationSeconds = Math.round((performance.now() - started) / 1000)

console.log(`\n${machineLine(machine, date, command)}; ${durationSeconds} s\n`)
console.log(markdownTable(rows))
if (notes.length > 0) console.log(`\n${notes.map((note) => `- ${note}`).join('\n')}`)
if (failed.length > 0) console.log(`\nFAILED: ${failed.join(', ')}`)

const file = path.join(import.meta.dirname, 'results', 'latest.json')
mkdirSync(path.dirname(file), { recursive: true })
const results = { date: date.toISOString(), command, quick: values.quick, machine, durationSeconds, scenarios: reports }
writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
process.exitCode = failed.length > 0 ? 1 : 0
