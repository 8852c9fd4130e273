#!/usr/bin/env node
// Runs the compiled app, dist/ (`npm run build`: `npm install` and `npm test` build it, `npm start`
// rebuilds it when a source changed). If dist/ is missing or older than a source file, it runs the
// TypeScript sources through tsx instead (slower to start, about 45 MB more memory): never stale code.
import { fileURLToPath, URL } from 'node:url'
import { distStale } from '../scripts/dist-status.mjs'

const stale = distStale(fileURLToPath(new URL('..', import.meta.url)))
if (stale === undefined) {
  await import('../dist/src/cli/main.js')
} else {
  console.error(`ragtime: running the TypeScript sources through tsx (${stale}; \`npm run build\` compiles them)`)
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
