// Runs every test/**/*.test.ts under node:test (through tsx), or the files given as arguments.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'

const given = process.argv.slice(2)
const files = given.length
  ? given
  : readdirSync('test', { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => path.join('test', file))
      .sort()

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
