#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step): `npx ragtime …` works right after install.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
