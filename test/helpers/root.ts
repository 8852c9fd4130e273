import { existsSync } from 'node:fs'
import path from 'node:path'

/**
 * The project's folder: the nearest one above this file that holds package.json. The tests run
 * from test/ (through tsx) or compiled, from dist/test/ (scripts/run-tests.mjs), so paths to
 * bin/, the fixtures and the lock file start here, not at a fixed number of `..`.
 */
export const ROOT = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${import.meta.dirname}`)
  }
})()
