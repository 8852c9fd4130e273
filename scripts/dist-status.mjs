// Whether dist/ (scripts/build.mjs) still matches the sources, judged in a few milliseconds
// from file dates: bin/ragtime.js runs dist/ only when it does, and `npm start` rebuilds first
// when it does not.
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'packages/outbox/tsconfig.json']
/** Read at run time relative to the modules; the build links each of their files into dist/. */
const ASSET_DIRS = ['templates', 'public']

/** Undefined when dist/ is current; otherwise why not, e.g. "src/web/app.ts is newer than dist/". */
export function distStale(root) {
  const built = statSync(path.join(root, 'dist/.built'), { throwIfNoEntry: false })?.mtimeMs
  if (built === undefined) return 'dist/ is not built'
  const newer = (file) => (statSync(path.join(root, file), { throwIfNoEntry: false })?.mtimeMs ?? 0) > built
  const files = (dir) => readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)))
  // The engine (@ragtime/outbox, packages/outbox/src) is built by the same build, before the app.
  for (const file of [...files('src'), ...files('packages/outbox/src'), ...CONFIGS]) if (newer(file)) return `${file} is newer than dist/`
  for (const file of ASSET_DIRS.flatMap(files)) {
    if (file.endsWith('.ts')) {
      if (newer(file)) return `${file} is newer than dist/`
    } else if (!statSync(path.join(root, 'dist', file), { throwIfNoEntry: false })) {
      return `${file} is not linked into dist/`
    }
  }
  return undefined
}
