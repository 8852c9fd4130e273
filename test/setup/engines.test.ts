import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import semver from 'semver'
import { ROOT } from '../helpers/root.ts'

/**
 * `npm install` warns EBADENGINE for every installed package whose `engines.node` the running
 * Node does not satisfy, and the README promises Node 20 is enough: the lock file must hold none
 * (run on each Node version users have: 20, 22, 24).
 */
test('every locked package runs on this Node by its own engines field: no EBADENGINE warning on install', () => {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>
  }
  const ours = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  assert.ok(semver.satisfies(process.version, ours.engines.node), `this Node (${process.version}) is one we support (${ours.engines.node})`)
  const refusing = Object.entries(lock.packages)
    .filter(([path, meta]) => path !== '' && !meta.optional)
    .flatMap(([path, meta]) => {
      const range = Array.isArray(meta.engines) ? undefined : meta.engines?.node
      return range && !semver.satisfies(process.version, range, { includePrerelease: true }) ? [`${path.replace(/^.*node_modules\//, '')} (node ${range})`] : []
    })
  assert.deepEqual(refusing, [], `packages that warn EBADENGINE on ${process.version}`)
})
