import { createRequire } from 'node:module'
import type pgModule from 'pg'

let loaded: typeof pgModule | undefined

/**
 * The `pg` driver, loaded on first use: processes on SQLite (the default, and every `ragtime`
 * command run there) never pay its ~80 ms of start-up.
 */
export function pg(): typeof pgModule {
  if (!loaded) {
    loaded = createRequire(import.meta.url)('pg') as typeof pgModule
    // int8 (bigint, count(*)) arrives as a string by default; ids and times here fit a double.
    loaded.types.setTypeParser(loaded.types.builtins.INT8, (value) => Number(value))
  }
  return loaded
}
