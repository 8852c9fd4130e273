import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { promisify } from 'node:util'
import { heapFlags, LEAN_HEAP_FLAGS } from '../../src/cli/heap.ts'
import { spawnRagtime } from '../helpers/cli.ts'
import { tempDir, testEnv } from '../helpers/env.ts'
import { ON_POSTGRES } from '../helpers/postgres.ts'
import { startSmtpSink } from '../helpers/smtp-sink.ts'
import { freePort, until } from '../helpers/wait.ts'

/**
 * Garbage that outlives young collections, as a burst of requests makes: a ring of small objects,
 * each replaced after the ring's length more were made. Prints the young generation's size at
 * the start and the largest young and old generation seen (MB), after setting the flags given.
 */
const CHURN = `
const v8 = require('node:v8')
for (const flag of JSON.parse(process.argv[1])) v8.setFlagsFromString(flag)
const size = (name) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name).space_size / 1048576
const start = size('new_space')
const ring = new Array(Number(process.argv[2]))
let young = 0, old = 0
for (let i = 0; i < 1500000; i++) {
  ring[i % ring.length] = { i, text: 'x'.repeat(20) + i, pair: [i, i + 1] }
  if (i % 5000 === 0) { young = Math.max(young, size('new_space')); old = Math.max(old, size('old_space')) }
}
console.log(JSON.stringify({ start, young, old }))
`

async function churn(flags: readonly string[], ring: number): Promise<{ start: number; young: number; old: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', CHURN, JSON.stringify(flags), String(ring)])
  return JSON.parse(stdout) as { start: number; young: number; old: number }
}

const leanFlag = (prefix: string) => LEAN_HEAP_FLAGS.filter((flag) => flag.startsWith(prefix))

/** A preload that reports every V8 flag the process sets on itself, and the young generation's size then and at the start. */
function flagRecorder(): string {
  const file = path.join(tempDir(), 'record-v8-flags.cjs')
  writeFileSync(
    file,
    `const v8 = require('node:v8')
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size
process.stderr.write('young at start: ' + young() + '\\n')
const set = v8.setFlagsFromString
v8.setFlagsFromString = (flag) => { process.stderr.write('v8 flag: ' + flag + ' (young: ' + young() + ')\\n'); set(flag) }
require('node:module').syncBuiltinESMExports()
`,
  )
  return file
}

const flagsSet = (stderr: string) => [...stderr.matchAll(/^v8 flag: (\S+)/gm)].map((m) => m[1])

const skip = ON_POSTGRES ? 'the heap’s sizing does not depend on the database: checked on the SQLite pass' : undefined

describe('RAGTIME_HEAP', { concurrency: true, skip }, () => {
  test('each lean flag, set after start-up, does what it says: the young generation keeps its start size, the old one stays closer to what is live', async () => {
    const YOUNG_RING = 30_000 // outlives a young collection at the start size, not at Node's 16 MB
    const OLD_RING = 200_000 // promoted under either sizing: the old generation's growth decides
    const [node, young, nodeOld, old] = await Promise.all([
      churn([], YOUNG_RING),
      churn(leanFlag('--semi-space-growth-factor='), YOUNG_RING),
      churn([], OLD_RING),
      churn(leanFlag('--heap-growing-percent='), OLD_RING),
    ])
    assert.ok(node.young >= 8 * node.start, `Node's sizing grows the young generation (${node.start} → ${node.young} MB)`)
    assert.ok(young.young <= 2 * young.start, `lean keeps it (${young.start} → ${young.young} MB)`)
    assert.ok(old.old < nodeOld.old * 0.6, `old generation: lean ${old.old} MB, Node's ${nodeOld.old} MB`)
  })

  test('which flags: none for RAGTIME_HEAP=node, and none whose size the user gave Node, however spelt', () => {
    assert.deepEqual(heapFlags('lean', []), LEAN_HEAP_FLAGS)
    assert.deepEqual(heapFlags('node', []), [])
    const growing = leanFlag('--heap-growing-percent=')
    const semi = leanFlag('--semi-space-growth-factor=')
    for (const given of ['--max-semi-space-size=8', '--max_semi_space_size', '--min-semi-space-size=2', '--semi-space-growth-factor=4']) {
      assert.deepEqual(heapFlags('lean', ['--enable-source-maps', given]), growing, given)
    }
    assert.deepEqual(heapFlags('lean', ['--heap-growing-percent=40']), semi)
    assert.deepEqual(heapFlags('lean', ['--heap_growing_percent', '40', '--max-semi-space-size=8']), [])
    assert.deepEqual(heapFlags('lean', ['--max-old-space-size=512']), LEAN_HEAP_FLAGS, 'a limit is not a growth policy')
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
      return ragtime.stderr()
    }
    try {
      const [serve, worker, bounces, node, rangeGiven] = await Promise.all([
        started('serve', { NODE_OPTIONS: preload }),
        started('worker', { NODE_OPTIONS: preload }),
        started('bounces', { NODE_OPTIONS: preload }),
        started('worker', { NODE_OPTIONS: preload, RAGTIME_HEAP: 'node' }),
        started('worker', { NODE_OPTIONS: `${preload} --max-semi-space-size=8` }),
      ])
      for (const [command, stderr] of Object.entries({ serve, worker, bounces })) {
        assert.deepEqual(flagsSet(stderr), LEAN_HEAP_FLAGS, command)
        // Before the command's modules load: they grow the young generation to 16 MB.
        const start = Number(/^young at start: (\d+)$/m.exec(stderr)?.[1])
        for (const [, then] of stderr.matchAll(/^v8 flag: \S+ \(young: (\d+)\)$/gm)) {
          assert.ok(Number(then) <= 4 * start, `${command}: young generation ${then} bytes when sized, ${start} at the start`)
        }
      }
      assert.deepEqual(flagsSet(node), [])
      assert.deepEqual(flagsSet(rangeGiven), leanFlag('--heap-growing-percent='))
    } finally {
      await sink.close()
    }
  })
})
