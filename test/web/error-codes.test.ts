// The web app's error codes: one catalog (src/web/error-codes.ts), every code in it documented in
// docs/errors.md and used somewhere; Problem.code's type makes any other code a compile error.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ERROR_CODES } from '../../src/web/error-codes.ts'
import { ROOT } from '../helpers/root.ts'

const CODES = Object.keys(ERROR_CODES)

test('docs/errors.md lists every code of the catalog, and no other', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8')
  const listed = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1])
  assert.deepEqual([...listed].sort(), [...CODES].sort())
})

test('every code of the catalog is answered somewhere in the app', () => {
  const sources = readdirSync(path.join(ROOT, 'src'), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts') && file !== path.join('web', 'error-codes.ts'))
    .map((file) => readFileSync(path.join(ROOT, 'src', file), 'utf8'))
    .join('\n')
  const unused = CODES.filter((code) => !sources.includes(`'${code}'`))
  assert.deepEqual(unused, [], 'codes in the catalog that nothing answers with')
})
