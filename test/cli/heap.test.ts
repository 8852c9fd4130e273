import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import { LEAN_HEAP_FLAGS } from '../../src/cli/heap.ts'
import { spawnRagtime } from '../helpers/cli.ts'
import { tempDir, testEnv } from '../helpers/env.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { freePort, until } from '../helpers/wait.ts'

/**
 * Garbage that outlives young collections, as a burst of requests makes: a ring of 30,000 small
 * objects, each replaced after 30,000 more were made. Prints the largest young and old
 * generation seen, in MB, after applying the flags given as JSON.
 */
const CHURN = `
const v8 = require('node:v8')
for (const flag of JSON.parse(process.argv[1])) v8.setFlagsFromString(flag)
const size = (name) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name).space_size / 1048576
const ring = new Array(30000)
let young = 0, old = 0
for (let i = 0; i < 1500000; i++) {
  ring[i % ring.length] = { i, text: 'x'.repeat(20) + i, pair: [i, i + 1] }
  if (i % 5000 === 0) { young = Math.max(young, size('new_space')); old = Math.max(old, size('old_space')) }
}
console.log(JSON.stringify({ young, old }))
`

async function churn(flags: readonly string[]): Promise<{ young: number; old: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', CHURN, JSON.stringify(flags)])
  return JSON.parse(stdout) as { young: number; old: number }
}

/** A preload that reports every V8 flag the process sets on itself, on stderr. */
function flagRecorder(): string {
  const file = path.join(tempDir(), 'record-v8-flags.cjs')
  writeFileSync(
    file,
    `const v8 = require('node:v8')
const set = v8.setFlagsFromString
v8.setFlagsFromString = (flag) => { process.stderr.write('v8 flag: ' + flag + '\\n'); set(flag) }
require('node:module').syncBuiltinESMExports()
`,
  )
  return file
}

const flagsSet = (stderr: string) => [...stderr.matchAll(/^v8 flag: (.+)$/gm)].map((m) => m[1])

describe('RAGTIME_HEAP', { concurrency: true }, () => {
  test('the lean flags, set after start-up, keep the young generation at its start size and the old one closer to what is live', async () => {
    const [node, lean] = await Promise.all([churn([]), churn(LEAN_HEAP_FLAGS)])
    assert.ok(node.young >= 8, `Node's sizing grows the young generation (${node.young} MB)`)
    assert.ok(lean.young <= 2, `lean keeps it at its start (${lean.young} MB)`)
    assert.ok(lean.old < node.old * 0.7, `lean old generation ${lean.old} MB, Node's ${node.old} MB`)
  })

  test('serve, worker and bounces size the heap lean by default; RAGTIME_HEAP=node leaves it; a young-generation size given to Node wins', async () => {
    const sink = await startSmtpSink()
    const preload = `--require ${flagRecorder()}`
    const started = async (command: 'serve' | 'worker' | 'bounces', env: Record<string, string>) => {
      const port = String(await freePort())
      const extra: Record<string, string> =
        command === 'serve' ? { HOST: '127.0.0.1', PORT: port } : command === 'bounces' ? { HOST: '127.0.0.1', RAGTIME_BOUNCE_ADDRESS: 'bounces@ragtime.test', RAGTIME_BOUNCE_SMTP_PORT: port, SECRET_KEY: 'heap-test-secret-key-0123456789abcdef' } : {}
      const ragtime = spawnRagtime([command], testEnv({ MAIL_SERVER: '127.0.0.1', MAIL_PORT: String(sink.port), RAGTIME_LOG_LEVEL: 'info', ...extra, ...env }))
      await until(() => /mail worker started|Ragtime is running at|bounce receiver started/.test(ragtime.stderr()), `${command} to start`, 30_000)
      ragtime.child.kill('SIGTERM')
      await ragtime.exited
      return flagsSet(ragtime.stderr())
    }
    try {
      const [serve, worker, bounces, node, rangeGiven] = await Promise.all([
        started('serve', { NODE_OPTIONS: preload }),
        started('worker', { NODE_OPTIONS: preload }),
        started('bounces', { NODE_OPTIONS: preload }),
        started('worker', { NODE_OPTIONS: preload, RAGTIME_HEAP: 'node' }),
        started('worker', { NODE_OPTIONS: `${preload} --max-semi-space-size=8` }),
      ])
      assert.deepEqual(serve, [...LEAN_HEAP_FLAGS])
      assert.deepEqual(worker, [...LEAN_HEAP_FLAGS])
      assert.deepEqual(bounces, [...LEAN_HEAP_FLAGS])
      assert.deepEqual(node, [])
      assert.deepEqual(rangeGiven, LEAN_HEAP_FLAGS.filter((flag) => flag.startsWith('--heap-growing-percent=')))
    } finally {
      await sink.close()
    }
  })
})
