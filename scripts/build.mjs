// npm run build: compiles the engine, packages/outbox (@ragtime/outbox), to its own dist/, then
// src/ (and templates/mail/samples.ts, which src/ imports) to dist/ with tsc, incrementally (about 2 s when nothing changed), then links every
// other file of templates/ and public/ into dist/, so that the compiled modules find them where
// the sources do and template edits need no build. Last, it writes dist/.built, dated when the
// build started: bin/ragtime.js runs dist/ only while no source is newer than that.
// Without TypeScript (an install that omitted dev dependencies) it builds nothing and says so:
// bin/ragtime.js then runs the sources through tsx. `--if-stale` (npm start) skips it all when
// dist/ is already current (scripts/dist-status.mjs), which takes milliseconds, not tsc's seconds.
import { spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { distStale } from './dist-status.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = path.join(root, 'dist')
const started = new Date()
if (process.argv.includes('--if-stale') && !distStale(root)) process.exit(0)

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  console.warn('ragtime build: TypeScript is not installed (dev dependencies omitted); bin/ragtime.js will run the sources through tsx')
  process.exit(0)
}
for (const project of ['packages/outbox/tsconfig.json', 'tsconfig.build.json']) {
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, project)], { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

/** Links each entry of `from` missing from `to` (a directory tsc also wrote into is entered instead). */
function linkMissing(from, to) {
  mkdirSync(to, { recursive: true })
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name.endsWith('.ts')) continue
    const source = path.join(from, entry.name)
    const target = path.join(to, entry.name)
    const existing = lstatSync(target, { throwIfNoEntry: false })
    if (entry.isDirectory() && existing?.isDirectory()) linkMissing(source, target)
    else if (!existing) symlinkSync(path.relative(to, source), target)
  }
}
for (const dir of ['templates', 'public']) linkMissing(path.join(root, dir), path.join(dist, dir))

const stamp = path.join(dist, '.built')
writeFileSync(stamp, `${started.toISOString()}\n`)
utimesSync(stamp, started, started)
if (!existsSync(path.join(dist, 'src/cli/main.js'))) throw new Error('the build wrote no dist/src/cli/main.js')
if (!existsSync(path.join(root, 'packages/outbox/dist/index.js'))) throw new Error('the build wrote no packages/outbox/dist/index.js')
