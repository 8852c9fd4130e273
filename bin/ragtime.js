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
  // The engine from its sources too (its exports map's "@ragtime/source" condition), not from its
  // dist/, which may be as stale as ours or missing.
  const { register: registerHooks } = await import('node:module')
  const hook = `export function resolve(specifier, context, next) {
    return next(specifier, specifier === '@ragtime/outbox' ? { ...context, conditions: [...context.conditions, '@ragtime/source'] } : context)
  }`
  registerHooks(`data:text/javascript,${encodeURIComponent(hook)}`)
  await import('../src/cli/main.ts')
}
